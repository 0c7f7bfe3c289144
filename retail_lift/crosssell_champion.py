"""The cross-sell rules' registered champion: train = mine the association rules from every order's basket,
score = use the champion's rules.

The rules are the model: ``ml_crosssell_rules`` asks :meth:`CrosssellRegistry.decide` whether to mine again
(:class:`~retail_lift.champion.FrameRegistry`: retrain var, no champion, bad file, spec, age, drift, changed
mining settings). Mining registers the rules table (the pickled ``model.pkl``) and
the item mix of the order lines it was mined from (artifact ``drift_reference``: lines per item). A build that
scores repeats the champion's rules; ``ml_crosssell_recommendations`` reads that table, so it recommends with
the champion's rules (and carries its ``model_version`` and ``trained_at``).

What the spec is: the order-line columns the mining reads (``order_id`` and the item level's column), names
and kinds in order. What drift means here: the rules are conditional frequencies of item pairs, so what makes
them stale is a change in what is bought: the PSI of the **item mix** (each item's share of the order lines)
now against the lines the champion was mined from, one number named after the item column (e.g.
``product_id``). New items (launches the champion's rules cannot recommend) and items that stop selling both
raise it; above 0.2 the rules are mined again. A growing history of the same mix does not (the shares stay),
so the age rule (``max_model_age_days``) is what refreshes the counts of a steady shop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retail_lift.champion import FrameRegistry, metrics_of
from retail_lift.registry import ModelRegistry, ModelVersion, RegistrySettings, feature_spec_of, frame_fingerprint

__all__ = ["CROSSSELL_MODEL", "CrosssellRegistry", "item_mix_psi", "order_line_spec"]

#: the registered model of the rules (the dbt model that mines them)
CROSSSELL_MODEL = "ml_crosssell_rules"
#: the share an item missing on one side takes in the PSI (as retail_lift.predict.drift)
_EPS = 1e-4


def order_line_spec(order_lines, columns) -> list[dict]:
    """The spec of ``columns`` of the order lines (pandas or Arrow; from the first 1,000 rows' pandas types)."""
    columns = list(columns)
    if isinstance(order_lines, pd.DataFrame):
        head = order_lines[columns].head(1000)
    else:
        head = order_lines.select(columns).slice(0, 1000).to_pandas()
    return feature_spec_of(head, columns)


def item_mix_psi(expected: pd.DataFrame, actual: pd.DataFrame) -> float:
    """PSI of two item mixes (``item_id``, ``lines``): each item's share of the lines, over the items of either."""
    e = expected.groupby("item_id")["lines"].sum()
    a = actual.groupby("item_id")["lines"].sum()
    items = e.index.union(a.index)
    if not len(items) or e.sum() <= 0 or a.sum() <= 0:
        return float("nan")
    es = np.maximum(e.reindex(items, fill_value=0).to_numpy(float) / e.sum(), _EPS)
    as_ = np.maximum(a.reindex(items, fill_value=0).to_numpy(float) / a.sum(), _EPS)
    return float(np.sum((as_ - es) * np.log(as_ / es)))


class CrosssellRegistry(FrameRegistry):
    """The rules in a store (module docstring). The inputs are the coded order lines (``order_id`` and the
    item column as codes, :func:`~retail_lift.crosssell.coded_lines`); ``item_ids``: the items of the codes,
    ``spec_now``: :func:`order_line_spec` of the order lines read."""

    name = CROSSSELL_MODEL
    family = "crosssell"

    def __init__(self, store: ModelRegistry, settings: RegistrySettings | None = None, params: Mapping | None = None,
                 *, item: str, item_ids: np.ndarray, spec_now: list[dict]):
        super().__init__(store, settings, params)
        self.item, self.item_ids, self.spec_now = item, item_ids, spec_now

    def check_payload(self, payload) -> bool:
        return isinstance(payload, pd.DataFrame) and {"antecedent_id", "consequent_id", "lift"} <= set(payload)

    def spec(self, inputs: pd.DataFrame) -> list[dict]:
        return list(self.spec_now)

    def fingerprint(self, inputs: pd.DataFrame) -> dict:
        return frame_fingerprint(inputs[[c for c in ("order_id", self.item) if c in inputs.columns]])

    def drift_reference(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Lines per item of the coded order lines (no missing item)."""
        codes = inputs[self.item].to_numpy() if self.item in inputs.columns else np.empty(0, dtype=int)
        counts = np.bincount(codes[codes >= 0], minlength=len(self.item_ids))
        kept = counts > 0
        return pd.DataFrame({"item_id": pd.Series(self.item_ids[kept], dtype="string"),
                             "lines": counts[kept].astype("int64")})

    def measure_drift(self, reference: pd.DataFrame, inputs: pd.DataFrame) -> dict[str, float]:
        return {self.item: item_mix_psi(reference, self.drift_reference(inputs))}

    def register_rules(self, lines: pd.DataFrame, rules: pd.DataFrame) -> ModelVersion:
        """Register the mined ``rules`` table of the coded order ``lines``."""
        n_orders = int(rules["n_orders"].iloc[0]) if len(rules) else int(lines["order_id"].nunique())
        return self.register(
            lines, rules.reset_index(drop=True), artifacts={},
            metrics=metrics_of([("rules", len(rules)), ("orders", n_orders),
                                ("median_lift", rules["lift"].median() if len(rules) else None)]),
            model_card={
                "intended_use": "cross-sell: pairwise association rules A -> B for top-N recommendations",
                "item_level": self.item, "rules": int(len(rules)), "orders": n_orders,
                "items": int(len(self.item_ids)),
            })
