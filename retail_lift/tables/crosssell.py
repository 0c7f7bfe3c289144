"""``python_models/ml/crosssell/``: association rules, recommendations and their time-holdout evaluation.

The order lines are read as Arrow, only the columns used, and the ids are coded as integers
(:mod:`retail_lift.crosssell.coded`): no Python string per order line, the same tables as on the ids.

Model store (``store``, a :class:`~retail_lift.registry.ModelRegistry`; the dbt model opens the one beside the
warehouse file): the mined rules are the model (:mod:`retail_lift.crosssell_champion`). ``ml_crosssell_rules``
mines them (and registers them as the new champion) only when :func:`~retail_lift.registry.training_decision`
says so (config keys ``retrain``, ``max_model_age_days``, ``registry_on_mismatch``, ``registry_alias`` from the
dbt vars of the same names) or its mining settings changed; otherwise it repeats the champion's rules.
``ml_crosssell_recommendations`` reads that table: it recommends with the champion's rules and carries their
``model_version`` and ``trained_at``. The evaluation mines its own rules on a time holdout (not registered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from retail_lift.crosssell import (
    ITEM_LEVELS,
    coded_lines,
    decode,
    evaluate_recommendations,
    level_item_column,
    mine_rules,
    popularity_recommendations,
    present,
    recommend,
    time_holdout,
)
from retail_lift.crosssell_champion import CrosssellRegistry, order_line_spec
from retail_lift.frames import as_frame, log_line, object_ids, typed_frame
from retail_lift.model_gate import heavy
from retail_lift.tables._config import check_store, choice, number, read_columnar, read_relation, set_fields
from retail_lift.tables._registry import NO_STORE, RegisteredModelConfig, check_registry_store, stamp

__all__ = ["CROSSSELL_EVALUATION_COLUMNS", "RECOMMENDATION_COLUMNS", "RULE_TABLE_COLUMNS",
           "CrosssellEvaluationConfig", "CrosssellMiningConfig", "CrosssellRecommendationsConfig",
           "CrosssellRulesConfig", "ml_crosssell_evaluation", "ml_crosssell_recommendations", "ml_crosssell_rules"]

RULE_TABLE_COLUMNS = {
    "item_level": "str", "antecedent_id": "str", "consequent_id": "str", "pair_count": "int",
    "antecedent_count": "int", "consequent_count": "int", "support": "float", "confidence": "float",
    "lift": "float", "n_orders": "int", "model_version": "int", "trained_at": "ts", "registry_action": "str",
    "registry_reason": "str",
}
#: the registry's bookkeeping columns of the rules table (the champion's rules repeat without them)
_BOOKKEEPING = ("model_version", "trained_at", "registry_action", "registry_reason")
#: the columns of the mined rules (what the registry stores)
_MINED_COLUMNS = {k: v for k, v in RULE_TABLE_COLUMNS.items() if k not in _BOOKKEEPING}
RECOMMENDATION_COLUMNS = {
    "customer_id": "str", "rank": "int", "item_level": "str", "item_id": "str", "score": "float",
    "because_item_id": "str", "n_rules": "int", "model_version": "int", "trained_at": "ts",
}
CROSSSELL_EVALUATION_COLUMNS = {
    "item_level": "str", "method": "str", "n": "int", "cutoff_at": "ts", "n_rules": "int",
    "n_customers": "int", "precision_at_n": "float", "recall_at_n": "float", "hit_rate_at_n": "float",
    "coverage": "float",
}
#: the columns of fct_customer_order_lines each model reads (every item level's column: the level is a setting)
ITEM_COLUMNS = tuple(ITEM_LEVELS.values())
RULES_LINE_COLUMNS = ("order_id", *ITEM_COLUMNS)
RECOMMENDATION_LINE_COLUMNS = ("customer_id", *ITEM_COLUMNS)
EVALUATION_LINE_COLUMNS = ("order_id", "customer_id", "ordered_at", *ITEM_COLUMNS)


@dataclass(frozen=True)
class CrosssellMiningConfig:
    """The thresholds of the rule mining and their defaults, shared by the rules and their evaluation."""

    _model: ClassVar[str] = "ml_crosssell_rules"  # named in the errors

    #: a pair must be in at least this share of orders ...
    min_support: float = 0.0001
    #: ... and in at least this many orders (so tiny data mines no noise)
    min_pair_orders: int = 10
    #: a rule A -> B needs P(B | A) >= this
    min_confidence: float = 0.01
    #: and lift >= this (1: only positive association)
    min_lift: float = 1.0

    def __post_init__(self):
        m = self._model
        set_fields(self, min_support=number(m, "min_support", self.min_support, low=0, high=1),
                   min_pair_orders=number(m, "min_pair_orders", self.min_pair_orders, integer=True, low=0),
                   min_confidence=number(m, "min_confidence", self.min_confidence, low=0, high=1),
                   min_lift=number(m, "min_lift", self.min_lift, low=0))


@dataclass(frozen=True)
class CrosssellRulesConfig(CrosssellMiningConfig, RegisteredModelConfig):
    """The settings of ``ml_crosssell_rules`` and their defaults (its yml states the same), with the registry's
    (:class:`~retail_lift.tables._registry.RegisteredModelConfig`)."""

    _model: ClassVar[str] = "ml_crosssell_rules"

    #: the items the rules are between: product, category or top_level_category
    item_level: str = "product"

    def __post_init__(self):
        choice(self._model, "item_level", self.item_level, ITEM_LEVELS)
        super().__post_init__()
        self.check_registry_settings()

    def fit_settings(self) -> dict:
        """The settings a mining records: a champion mined with others is mined again."""
        return {"item_level": self.item_level, "min_support": self.min_support,
                "min_pair_orders": self.min_pair_orders, "min_confidence": self.min_confidence,
                "min_lift": self.min_lift}


@dataclass(frozen=True)
class CrosssellRecommendationsConfig:
    """The settings of ``ml_crosssell_recommendations`` and their defaults (its yml states the same)."""

    #: recommendations per customer
    top_n: int = 5
    #: a candidate's score over the rules pointing to it: max (the strongest reason) or sum (votes add up)
    score: str = "max"

    def __post_init__(self):
        set_fields(self, top_n=number("ml_crosssell_recommendations", "top_n", self.top_n, integer=True, low=1))
        choice("ml_crosssell_recommendations", "score", self.score, ("max", "sum"))


@dataclass(frozen=True)
class CrosssellEvaluationConfig(CrosssellMiningConfig):
    """The settings of ``ml_crosssell_evaluation`` and their defaults (its yml states the same): the mining
    thresholds of the rules (the same defaults) and what is evaluated."""

    _model: ClassVar[str] = "ml_crosssell_evaluation"

    #: the item levels evaluated (each: product, category or top_level_category)
    item_levels: tuple[str, ...] = ("product", "category")
    #: the N of precision, recall and hit rate at N
    top_ns: tuple[int, ...] = (1, 3, 5, 10)

    def __post_init__(self):
        model = self._model
        levels, ns = self.item_levels, self.top_ns
        if isinstance(levels, str) or not isinstance(levels, Sequence) or not levels:
            raise ValueError(f"{model}: item_levels must be a non-empty list of {list(ITEM_LEVELS)}, got {levels!r}")
        if isinstance(ns, str) or not isinstance(ns, Sequence) or not ns:
            raise ValueError(f"{model}: top_ns must be a non-empty list of integers >= 1, got {ns!r}")
        set_fields(self, item_levels=tuple(choice(model, "item_levels", v, ITEM_LEVELS) for v in levels),
                   top_ns=tuple(number(model, "top_ns", v, integer=True, low=1) for v in ns))
        super().__post_init__()


@heavy
def ml_crosssell_rules(relations: Mapping[str, object], config: CrosssellRulesConfig = CrosssellRulesConfig(), *,
                       store=None) -> pd.DataFrame:
    """Pairwise association rules ``A -> B`` over all orders (``relations["fct_customer_order_lines"]``).

    A pair must be in at least ``max(min_support * orders, min_pair_orders)`` orders, with confidence
    ``>= min_confidence`` and lift ``>= min_lift``. One row per rule (:data:`RULE_TABLE_COLUMNS`); only
    ``order_id`` and the level's item column are used.
    """
    model = "ml_crosssell_rules"
    check_registry_store(store, model)
    order_lines = read_columnar(relations["fct_customer_order_lines"], RULES_LINE_COLUMNS)
    item = level_item_column(config.item_level)
    lines, ids = coded_lines(order_lines, ("order_id", item), required=("order_id",))
    registry = None
    if store is not None:
        registry = CrosssellRegistry(store, config.registry_settings(), params=config.fit_settings(), item=item,
                                     item_ids=ids.get(item, np.empty(0, dtype=object)),
                                     spec_now=order_line_spec(order_lines, ("order_id", item)))
        decision = registry.decide(lines)
        if not decision.trains:
            champion = registry.champion
            log_line(f"{model}: {decision.reason}; {len(champion.payload)} rules")
            return typed_frame(stamp(champion.payload, champion.version, registry_action="score",
                                     registry_reason=decision.reason), RULE_TABLE_COLUMNS)
    rules = mine_rules(lines, item, min_support=config.min_support, min_pair_orders=config.min_pair_orders,
                       min_confidence=config.min_confidence, min_lift=config.min_lift)
    out = rules.rename(columns={"antecedent": "antecedent_id", "consequent": "consequent_id"})
    out["antecedent_id"] = decode(out["antecedent_id"], ids[item])
    out["consequent_id"] = decode(out["consequent_id"], ids[item])
    out["item_level"] = config.item_level
    out["n_orders"] = rules.attrs.get("n_orders", 0)
    out = typed_frame(out, _MINED_COLUMNS)
    if registry is None:
        return typed_frame(stamp(out, None, registry_action="train", registry_reason=NO_STORE), RULE_TABLE_COLUMNS)
    version = registry.register_rules(lines, out)
    return typed_frame(stamp(out, version, registry_action="train", registry_reason=registry.decision.reason),
                       RULE_TABLE_COLUMNS)


def ml_crosssell_recommendations(relations: Mapping[str, object],
                                 config: CrosssellRecommendationsConfig = CrosssellRecommendationsConfig(), *,
                                 store=None) -> pd.DataFrame:
    """Top-``top_n`` items per customer from the rules (``ml_crosssell_rules``) whose antecedent the customer
    bought (``fct_customer_order_lines``), never an item they already bought. The item level is the rules'."""
    check_store(store, "ml_crosssell_recommendations")
    r = object_ids(as_frame(read_relation(relations["ml_crosssell_rules"])), ("antecedent_id", "consequent_id"))
    if r.empty:
        return typed_frame(None, RECOMMENDATION_COLUMNS)
    level = str(r["item_level"].iloc[0])
    item = level_item_column(level)
    order_lines = read_columnar(relations["fct_customer_order_lines"], RECOMMENDATION_LINE_COLUMNS)
    lines, ids = coded_lines(order_lines, ("customer_id", item), required=("customer_id",))
    owned = lines.loc[present(lines[item]), ["customer_id", item]]
    # the rules' items as codes of the order lines' items; a rule on an item nobody bought recommends nothing
    items = pd.Index(ids[item])
    a, b = items.get_indexer(r["antecedent_id"]), items.get_indexer(r["consequent_id"])
    known = (a >= 0) & (b >= 0)
    coded = r.loc[known].assign(antecedent=a[known], consequent=b[known])
    recs = recommend(owned, coded, n=config.top_n, item_column=item, score=config.score)
    out = recs.rename(columns={item: "item_id", "because_item": "because_item_id"})
    out["customer_id"] = decode(out["customer_id"], ids["customer_id"])
    out["item_id"] = decode(out["item_id"], ids[item])
    out["because_item_id"] = decode(out["because_item_id"], ids[item])
    out["item_level"] = level
    # the version of the rules recommended with (the registered champion's, or the one mined in this build)
    for column in ("model_version", "trained_at"):
        out[column] = r[column].iloc[0] if column in r.columns else None
    return typed_frame(out, RECOMMENDATION_COLUMNS)


def _train_cutoff(snapshots) -> pd.Timestamp:
    s = read_relation(snapshots)
    train = s.loc[s["snapshot_role"] == "train", "feature_cutoff_at"]
    if train.empty:
        raise ValueError(f"ml_crosssell_evaluation: int_snapshot_dates has no row with snapshot_role = 'train' "
                         f"(roles: {sorted(s['snapshot_role'].astype(str).unique())})")
    return pd.Timestamp(train.iloc[0])


def ml_crosssell_evaluation(relations: Mapping[str, object],
                            config: CrosssellEvaluationConfig = CrosssellEvaluationConfig(), *,
                            store=None) -> pd.DataFrame:
    """Precision, recall, hit rate at N and coverage on a time holdout, for rules and a popularity baseline.

    Rules and owned items come from the order lines (``fct_customer_order_lines``) before the train
    snapshot's feature cutoff (``int_snapshot_dates``), the truth from the items each customer bought on or
    after it that they had not bought before (:func:`~retail_lift.crosssell.time_holdout`); customers
    without a purchase before the cutoff are left out. One row per item level x method
    (``association_rules``, ``popularity``) x N (:data:`CROSSSELL_EVALUATION_COLUMNS`).
    """
    check_store(store, "ml_crosssell_evaluation")
    order_lines = read_columnar(relations["fct_customer_order_lines"], EVALUATION_LINE_COLUMNS)
    cutoff = _train_cutoff(relations["int_snapshot_dates"])
    levels, ns = config.item_levels, config.top_ns
    items = [level_item_column(level) for level in levels]
    lines, _ids = coded_lines(order_lines, ("order_id", "customer_id", *dict.fromkeys(items)), ordered_at=True,
                              required=("order_id", "customer_id"))
    del order_lines
    rows = []
    for level, item in zip(levels, items, strict=True):
        if item not in lines.columns:
            raise ValueError(f"order_lines has no column {item!r} for item level {level!r}")
        sub = lines.loc[present(lines[item]), ["order_id", "customer_id", "ordered_at", item]]
        if sub.empty:
            continue
        train, hold = time_holdout(sub, cutoff, item_column=item)
        del sub
        customers = pd.Index(hold["customer_id"].unique())
        n_max = max(ns)
        rules = (mine_rules(train, item, min_support=config.min_support, min_pair_orders=config.min_pair_orders,
                            min_confidence=config.min_confidence, min_lift=config.min_lift)
                 if len(train) else pd.DataFrame())
        owned = train.loc[train["customer_id"].isin(customers), ["customer_id", item]]
        if len(rules) and len(owned):
            recs = recommend(owned, rules, n=n_max, item_column=item)
        else:
            recs = pd.DataFrame({"customer_id": pd.Series(dtype=object), item: pd.Series(dtype=object),
                                 "rank": pd.Series(dtype=int)})
        del owned
        pop = (popularity_recommendations(train, customers, item, n_max) if len(train)
               else recs.iloc[:0][["customer_id", item, "rank"]])
        for method, r, n_rules in (("association_rules", recs, len(rules)), ("popularity", pop, None)):
            for n in ns:
                res = evaluate_recommendations(r, hold, n, item_column=item)
                rows.append({"item_level": level, "method": method, "n": n, "cutoff_at": cutoff, "n_rules": n_rules,
                             **{k: v for k, v in res.items() if k != "n"}})
        del train, hold, recs, pop
    return typed_frame(pd.DataFrame(rows), CROSSSELL_EVALUATION_COLUMNS)
