"""Glue between the warehouse marts and the model packages: what the thin dbt Python models call.

Each dbt Python model in ``python_models/ml/{crosssell,campaign}/`` reads its refs into
pandas, calls **one** function of this module and returns its DataFrame (the evaluations against the
simulated world's truth are in :mod:`retail_lift.evaluation`; the ``predict`` and ``segments`` models call
the table layer, :mod:`retail_lift.tables`). The functions only wire the package
families together (which columns, which population, which defaults); the statistics live in
:mod:`retail_lift.crosssell` and :mod:`retail_lift.campaign`.

Every output has a fixed schema (:data:`RULE_TABLE_COLUMNS` and friends), also when it is empty, so
the SQL models and tests downstream never see a missing column. Cross-sell and campaign tables simply
come out empty when their inputs are. Any other error propagates: a bug must fail the build, not skip a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.campaign import (
    DEFAULT_LEVELS,
    best_send_time,
    build_target_list,
    compare_broadcast_targeted,
    estimate_price_sensitivity,
    export_target_list,
    fatigue_curve,
    fatigue_flags,
    personalised_discount,
)
from retail_lift.crosssell import association_rules, evaluate_recommendations, recommend, time_holdout
from retail_lift.frames import as_frame, log_line, object_ids, typed_frame

__all__ = [
    "broadcast_vs_targeted",
    "campaign_target_list",
    "crosssell_evaluation",
    "crosssell_recommendations",
    "crosssell_rules",
    "export_campaign_targets",
    "fatigue_curve_table",
    "fatigue_table",
    "as_frame",
    "log_line",
    "typed_frame",
]


# ----------------------------------------------------------------------------------------------
# cross-sell
# ----------------------------------------------------------------------------------------------

ITEM_LEVELS = {"product": "product_id", "category": "category_id", "top_level_category": "top_level_category_id"}
RULE_TABLE_COLUMNS = {
    "item_level": "str", "antecedent_id": "str", "consequent_id": "str", "pair_count": "int",
    "antecedent_count": "int", "consequent_count": "int", "support": "float", "confidence": "float",
    "lift": "float", "n_orders": "int",
}
RECOMMENDATION_COLUMNS = {
    "customer_id": "str", "rank": "int", "item_level": "str", "item_id": "str", "score": "float",
    "because_item_id": "str", "n_rules": "int",
}
CROSSSELL_EVALUATION_COLUMNS = {
    "item_level": "str", "method": "str", "n": "int", "cutoff_at": "ts", "n_rules": "int",
    "n_customers": "int", "precision_at_n": "float", "recall_at_n": "float", "hit_rate_at_n": "float",
    "coverage": "float",
}


def _item_column(item_level: str) -> str:
    if item_level not in ITEM_LEVELS:
        raise ValueError(f"item_level must be one of {list(ITEM_LEVELS)}, got {item_level!r}")
    return ITEM_LEVELS[item_level]


def _min_support(n_orders: int, min_support: float, min_pair_orders: int) -> float:
    """The larger of a share of orders and a minimum count of orders (so tiny data mines no noise)."""
    return max(float(min_support), min(1.0, min_pair_orders / n_orders)) if n_orders else 1.0


def _id_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of an id column (a pandas Series or an Arrow array) and its distinct values.

    The codes are the positions of the values among the sorted distinct values (missing: -1), so codes
    compare, sort and tie-break exactly like the ids (strings by code point, as Python and Arrow both do);
    the distinct values come back as a NumPy array (strings as Python ``str``) to decode with."""
    if isinstance(values, pd.Series):
        codes, uniques = pd.factorize(values, sort=True)
        uniques = np.asarray(uniques.astype(object) if not isinstance(uniques, np.ndarray) else uniques)
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(values, pa.ChunkedArray) and pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        distinct = pc.unique(values).drop_null()
        distinct = distinct.take(pc.sort_indices(distinct))
        codes = pc.fill_null(pc.index_in(values, value_set=distinct), -1).to_numpy()
        uniques = distinct.to_numpy(zero_copy_only=False)  # strings: an object array of str
    dtype = np.int32 if len(uniques) < 2**31 - 1 else np.int64
    return np.asarray(codes).astype(dtype, copy=False), uniques


def _coded_lines(order_lines, columns: Sequence[str], *, ordered_at: bool = False,
                 required: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The id ``columns`` of ``fct_customer_order_lines`` (pandas or Arrow) as integer codes (see
    :func:`_id_codes`; missing items -1) and ``ordered_at`` as is; with each column's distinct ids.

    Cross-sell only counts, joins and sorts ids, so it runs on the codes and decodes its outputs: the same
    tables as on the string ids, without a Python string object per order line (millions of lines).
    Columns not in the input are left out; ``required`` columns (``order_id``, ``customer_id``: the keys)
    must have no missing values, as :func:`~retail_lift.crosssell.association_rules` /
    :func:`~retail_lift.crosssell.recommend` demand."""
    if isinstance(order_lines, pd.DataFrame):
        names = list(order_lines.columns)
        get = order_lines.__getitem__
    elif hasattr(order_lines, "column") and hasattr(order_lines, "schema"):
        names = list(order_lines.schema.names)
        get = order_lines.column
    else:
        raise ValueError(f"expected a pandas DataFrame or a pyarrow Table, got {type(order_lines).__name__}")
    out, uniques = {}, {}
    for c in columns:
        if c not in names:
            if c in required:
                raise ValueError(f"order_lines has no column {c!r}; columns are {names}")
            continue
        out[c], uniques[c] = _id_codes(get(c))
        if c in required and (out[c] < 0).any():
            raise ValueError(f"order_lines[{c!r}] has {int((out[c] < 0).sum())} missing value(s)")
    if ordered_at:
        when = get("ordered_at")
        out["ordered_at"] = when if isinstance(when, pd.Series) else when.to_pandas()
    return pd.DataFrame(out).reset_index(drop=True), uniques


def _decode(codes, uniques: np.ndarray) -> np.ndarray:
    return uniques[np.asarray(codes, dtype=np.int64)]


def _mine(lines: pd.DataFrame, item: str, *, min_support: float, min_pair_orders: int, min_confidence: float,
          min_lift: float) -> pd.DataFrame:
    lines = lines[_present(lines[item])]
    n_orders = lines["order_id"].nunique()
    return association_rules(lines, min_support=_min_support(n_orders, min_support, min_pair_orders),
                             min_confidence=min_confidence, min_lift=min_lift, item_column=item)


def _present(s: pd.Series) -> np.ndarray:
    """Rows with an item: not missing, and not the code -1 of a missing id (:func:`_coded_lines`)."""
    ok = s.notna().to_numpy()
    if pd.api.types.is_integer_dtype(s.dtype):
        ok = ok & (s.to_numpy() >= 0)
    return ok


def crosssell_rules(order_lines, *, item_level: str = "product", min_support: float = 1e-4,
                    min_pair_orders: int = 10, min_confidence: float = 0.01, min_lift: float = 1.0) -> pd.DataFrame:
    """Pairwise association rules ``A -> B`` over all orders (``fct_customer_order_lines``).

    A pair must be in at least ``max(min_support * orders, min_pair_orders)`` orders, with confidence
    ``>= min_confidence`` and lift ``>= min_lift`` (1: only positive association). One row per rule.
    ``order_lines``: pandas or Arrow; only ``order_id`` and the item column are read.
    """
    item = _item_column(item_level)
    lines, ids = _coded_lines(order_lines, ("order_id", item), required=("order_id",))
    rules = _mine(lines, item, min_support=min_support, min_pair_orders=min_pair_orders,
                  min_confidence=min_confidence, min_lift=min_lift)
    out = rules.rename(columns={"antecedent": "antecedent_id", "consequent": "consequent_id"})
    out["antecedent_id"] = _decode(out["antecedent_id"], ids[item])
    out["consequent_id"] = _decode(out["consequent_id"], ids[item])
    out["item_level"] = item_level
    out["n_orders"] = rules.attrs.get("n_orders", 0)
    return typed_frame(out, RULE_TABLE_COLUMNS)


def crosssell_recommendations(order_lines, rules, *, n: int = 5, score: str = "max") -> pd.DataFrame:
    """Top-``n`` items per customer from the rules whose antecedent the customer bought (never an item
    they already bought). The item level is the rules' (``item_level``). ``order_lines``: pandas or Arrow;
    only ``customer_id`` and the item column are read."""
    r = object_ids(as_frame(rules), ("antecedent_id", "consequent_id"))
    if r.empty:
        return typed_frame(None, RECOMMENDATION_COLUMNS)
    level = str(r["item_level"].iloc[0])
    item = _item_column(level)
    lines, ids = _coded_lines(order_lines, ("customer_id", item), required=("customer_id",))
    owned = lines.loc[_present(lines[item]), ["customer_id", item]]
    # the rules' items as codes of the order lines' items; a rule on an item nobody bought recommends nothing
    items = pd.Index(ids[item])
    a, b = items.get_indexer(r["antecedent_id"]), items.get_indexer(r["consequent_id"])
    known = (a >= 0) & (b >= 0)
    coded = r.loc[known].assign(antecedent=a[known], consequent=b[known])
    recs = recommend(owned, coded, n=n, item_column=item, score=score)
    out = recs.rename(columns={item: "item_id", "because_item": "because_item_id"})
    out["customer_id"] = _decode(out["customer_id"], ids["customer_id"])
    out["item_id"] = _decode(out["item_id"], ids[item])
    out["because_item_id"] = _decode(out["because_item_id"], ids[item])
    out["item_level"] = level
    return typed_frame(out, RECOMMENDATION_COLUMNS)


#: Candidate rows (customer x popular item) formed at a time by the popularity baseline.
POPULARITY_BLOCK_ROWS = 4_000_000


def _popularity_recommendations(train: pd.DataFrame, customers: pd.Index, item: str, n: int, *,
                                block_rows: int = POPULARITY_BLOCK_ROWS) -> pd.DataFrame:
    """Baseline: the items bought in most orders before the cutoff, minus those the customer owns.

    Each customer walks down the popularity list past the items they own: their top ``n`` lie within the
    first ``n + owned`` items. Candidates are formed for blocks of customers of about ``block_rows`` rows
    (the result does not depend on it)."""
    pop = train.groupby(item)["order_id"].nunique().sort_values(ascending=False, kind="mergesort")
    owned = train.loc[train["customer_id"].isin(customers), ["customer_id", item]].drop_duplicates()
    cust = np.sort(pd.unique(np.asarray(customers)))
    n_owned = owned.groupby("customer_id").size().reindex(cust, fill_value=0).to_numpy(np.int64)
    depth = np.minimum(len(pop), n + n_owned)
    empty = pd.DataFrame({"customer_id": cust[:0], item: pop.index[:0], "rank": np.zeros(0, dtype=np.int64)})
    if not len(cust) or not len(pop):
        return empty
    block = (np.cumsum(depth) - depth) // max(int(block_rows), 1)
    bounds = np.searchsorted(block, np.unique(block), side="left").tolist() + [len(cust)]
    pop_items = pop.index.to_numpy()
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        d = depth[lo:hi]
        rows = np.repeat(np.arange(lo, hi), d)
        pop_rank = np.arange(len(rows)) - np.repeat(np.cumsum(d) - d, d)
        cand = pd.DataFrame({"customer_id": cust[rows], item: pop_items[pop_rank], "pop_rank": pop_rank})
        mine = owned[owned["customer_id"].isin(cust[lo:hi])]
        cand = cand.merge(mine.assign(_owned=True), on=["customer_id", item], how="left")
        cand = cand[cand["_owned"].isna()].sort_values(["customer_id", "pop_rank"], kind="mergesort")
        cand["rank"] = cand.groupby("customer_id").cumcount() + 1
        parts.append(cand[cand["rank"] <= n][["customer_id", item, "rank"]])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


def crosssell_evaluation(order_lines, cutoff, *, levels: Sequence[str] = ("product", "category"),
                         ns: Sequence[int] = (1, 3, 5, 10), min_support: float = 1e-4, min_pair_orders: int = 10,
                         min_confidence: float = 0.01, min_lift: float = 1.0) -> pd.DataFrame:
    """Precision, recall, hit rate at N and coverage on a time holdout, for rules and a popularity baseline.

    Rules and owned items come from the order lines before ``cutoff`` (the train snapshot's feature cutoff),
    the truth from the items each customer bought on or after it that they had not bought before
    (:func:`~retail_lift.crosssell.time_holdout`); customers without a purchase before the cutoff are left
    out. One row per item level x method (``association_rules``, ``popularity``) x N. ``order_lines``:
    pandas or Arrow; ``order_id``, ``customer_id``, ``ordered_at`` and the levels' item columns are read
    (as integer codes: only counts and sets of ids matter here).
    """
    items = [_item_column(level) for level in levels]
    lines, _ids = _coded_lines(order_lines, ("order_id", "customer_id", *dict.fromkeys(items)), ordered_at=True,
                               required=("order_id", "customer_id"))
    cutoff = pd.Timestamp(cutoff)
    rows = []
    for level, item in zip(levels, items, strict=True):
        if item not in lines.columns:
            raise ValueError(f"order_lines has no column {item!r} for item level {level!r}")
        sub = lines.loc[_present(lines[item]), ["order_id", "customer_id", "ordered_at", item]]
        if sub.empty:
            continue
        train, hold = time_holdout(sub, cutoff, item_column=item)
        del sub
        customers = pd.Index(hold["customer_id"].unique())
        n_max = max(ns)
        rules = (_mine(train, item, min_support=min_support, min_pair_orders=min_pair_orders,
                       min_confidence=min_confidence, min_lift=min_lift) if len(train) else pd.DataFrame())
        owned = train.loc[train["customer_id"].isin(customers), ["customer_id", item]]
        if len(rules) and len(owned):
            recs = recommend(owned, rules, n=n_max, item_column=item)
        else:
            recs = pd.DataFrame({"customer_id": pd.Series(dtype=object), item: pd.Series(dtype=object),
                                 "rank": pd.Series(dtype=int)})
        del owned
        pop = (_popularity_recommendations(train, customers, item, n_max) if len(train)
               else recs.iloc[:0][["customer_id", item, "rank"]])
        for method, r, n_rules in (("association_rules", recs, len(rules)), ("popularity", pop, None)):
            for n in ns:
                res = evaluate_recommendations(r, hold, n, item_column=item)
                rows.append({"item_level": level, "method": method, "n": n, "cutoff_at": cutoff, "n_rules": n_rules,
                             **{k: v for k, v in res.items() if k != "n"}})
        del train, hold, recs, pop
    return typed_frame(pd.DataFrame(rows), CROSSSELL_EVALUATION_COLUMNS)


# ----------------------------------------------------------------------------------------------
# campaign
# ----------------------------------------------------------------------------------------------

FATIGUE_COLUMNS = {
    "customer_id": "str", "n_exposures": "int", "conversions": "int", "recent_exposures": "int",
    "last_n_exposures": "int", "last_n_rate": "float", "earlier_exposures": "int", "earlier_rate": "float",
    "baseline_rate": "float", "p_value": "float", "is_fatigued": "bool", "as_of": "ts",
}
FATIGUE_CURVE_COLUMNS = {
    "prior_exposures": "int", "exposures": "int", "conversions": "int", "response_rate": "float",
    "ci_low": "float", "ci_high": "float",
}
TARGET_LIST_COLUMNS = {
    "customer_id": "str", "rank": "int", "status": "str", "promotion_id": "str", "purchase_probability": "float",
    "price_sensitivity": "float", "discount_rate": "float", "best_weekday": "int", "best_hour": "int",
    "avg_order_value": "float", "expected_conversions": "float", "expected_revenue": "float",
    "expected_discount_cost": "float", "expected_cost": "float", "expected_margin": "float",
    "expected_profit": "float", "roi": "float", "cumulative_cost": "float", "segment_name": "str",
    "is_fatigued": "bool", "promotion_discount_rate": "float", "contact_cost": "float", "margin_rate": "float",
}
BROADCAST_COLUMNS = {
    "strategy": "str", "promotion_id": "str", "contacts": "int", "expected_conversions": "float",
    "expected_revenue": "float", "expected_discount_cost": "float", "expected_cost": "float",
    "expected_profit": "float", "expected_roi": "float", "expected_conversion_rate": "float",
}


def _promotion_exposures(exposures) -> pd.DataFrame:
    e = as_frame(exposures)
    e = e[e["is_window_closed"].fillna(False).astype(bool)]
    return pd.DataFrame({"customer_id": e["customer_id"].to_numpy(), "exposed_at": pd.to_datetime(e["exposed_at"]),
                         "converted": e["is_converted"].astype(bool).astype(int).to_numpy()})


def fatigue_table(exposures, *, window_days: float = 30, recent_n: int = 5, min_recent_exposures: int = 3,
                  alpha: float = 0.1) -> pd.DataFrame:
    """Per-customer fatigue flags (:func:`~retail_lift.campaign.fatigue_flags`) over the promotion
    exposures (``fct_promotion_exposures``, closed attribution windows only: an open window's conversion
    is not known yet). One row per exposed customer."""
    e = _promotion_exposures(exposures)
    flags = fatigue_flags(e, window_days=window_days, recent_n=recent_n, min_recent_exposures=min_recent_exposures,
                          alpha=alpha)
    flags["as_of"] = flags.attrs.get("as_of")
    return typed_frame(flags, FATIGUE_COLUMNS)


def fatigue_curve_table(exposures, *, max_prior: int = 10, window_days: float | None = None) -> pd.DataFrame:
    """Response rate by number of prior exposures (:func:`~retail_lift.campaign.fatigue_curve`)."""
    e = _promotion_exposures(exposures)
    if e.empty:
        return typed_frame(None, FATIGUE_CURVE_COLUMNS)
    return typed_frame(fatigue_curve(e, max_prior=max_prior, window_days=window_days), FATIGUE_CURVE_COLUMNS)


def _promotion(promotions, promotion_id: str) -> pd.Series:
    p = as_frame(promotions)
    row = p[p["promotion_id"] == promotion_id]
    if row.empty:
        raise ValueError(f"promotion {promotion_id!r} is not in the promotions table; it has "
                         f"{sorted(p['promotion_id'].astype(str))}")
    return row.iloc[0]


def discount_levels(rate: float) -> tuple[float, ...]:
    """The personalised discount levels around a promotion's rate: 0, 1/2, 1, 3/2 and 2 times it (the
    package default 0-20 % for a 10 % offer), capped below 100 %; just 0 for an offer without discount."""
    rate = float(rate)
    if rate <= 0:
        return (0.0,)
    scale = rate / DEFAULT_LEVELS[2]
    return tuple(sorted({min(round(lv * scale, 6), 0.95) for lv in DEFAULT_LEVELS}))


def campaign_target_list(scores, features, activity, promotions, fatigue=None, segments=None, *,
                         promotion_id: str = "email_10pct", budget: float | None = None,
                         max_contacts: int | None = None, max_contacts_share: float | None = 0.2,
                         margin_rate: float | None = None) -> pd.DataFrame:
    """Every scored customer ranked by expected profit of the campaign, with the selection ``status``.

    Per customer (the score snapshot of ``fct_customer_features``): purchase probability from
    ``ml_purchase_propensity_scores``; full-price order value = the customer's average order value (the
    median of the buyers for a customer without orders); price sensitivity from the discounted-order share
    and the discount share of gross spend (shrunk to the mean by order count), mapped to a personalised
    discount among :func:`discount_levels` of the promotion; best weekday and hour from the customer's
    session starts (``fct_customer_activity_by_weekday_hour``, shrunk to the global peak); fatigued
    customers (``ml_campaign_fatigue``) are excluded. Economics and selection:
    :func:`~retail_lift.campaign.build_target_list` with the promotion's contact cost and the catalogue's
    gross margin rate (``dim_campaign_promotions``), at most ``budget`` total expected cost and at most
    ``max_contacts`` customers (default ``max_contacts_share`` of the candidates, rounded up).
    """
    s = as_frame(scores)[["customer_id", "purchase_probability"]]
    p = as_frame(promotions)
    if s.empty or not (p["promotion_id"] == promotion_id).any():
        log_line(f"campaign {promotion_id}: no target list ({len(s)} scored customers; promotion "
                 f"{'found' if (p['promotion_id'] == promotion_id).any() else 'not in the promotions table'})")
        return typed_frame(None, TARGET_LIST_COLUMNS)
    promo = _promotion(p, promotion_id)
    contact_cost = float(promo["contact_cost"])
    margin = float(promo["gross_margin_rate"]) if margin_rate is None else float(margin_rate)
    if not np.isfinite(margin):
        margin = 0.0
    f = as_frame(features)
    f = f[f["snapshot_role"] == "score"]
    df = s.merge(f[["customer_id", "avg_order_value", "discounted_order_share", "discount_amount", "revenue_all",
                    "orders_all"]], on="customer_id", how="left")
    if df.empty:
        return typed_frame(None, TARGET_LIST_COLUMNS)
    aov = pd.to_numeric(df["avg_order_value"], errors="coerce").astype(float)
    df["avg_order_value"] = aov.fillna(aov.median() if aov.notna().any() else 0.0)
    gross = pd.to_numeric(df["revenue_all"], errors="coerce") + pd.to_numeric(df["discount_amount"], errors="coerce")
    df["avg_discount_rate"] = (pd.to_numeric(df["discount_amount"], errors="coerce") / gross.where(gross > 0))
    df["discounted_order_share"] = pd.to_numeric(df["discounted_order_share"], errors="coerce").astype(float)
    if df["discounted_order_share"].notna().any() and df["avg_discount_rate"].notna().any():
        df["price_sensitivity"] = estimate_price_sensitivity(df, share_column="discounted_order_share",
                                                             rate_column="avg_discount_rate",
                                                             orders_column="orders_all").to_numpy()
    else:  # nobody has an order history: everyone is typical
        df["price_sensitivity"] = 0.5
    df["discount_rate"] = personalised_discount(df["price_sensitivity"].to_numpy(), discount_levels(
        promo["discount_rate"]))
    act = as_frame(activity)
    slots = pd.DataFrame({"customer_id": act["customer_id"], "weekday": act["iso_weekday"],
                          "hour": act["hour_of_day"], "events": act["sessions_started"]})
    send = best_send_time(slots, customers=df["customer_id"])
    excluded: list = []
    df["is_fatigued"] = False
    if fatigue is not None:
        fat = as_frame(fatigue)
        excluded = fat.loc[fat["is_fatigued"].fillna(False).astype(bool), "customer_id"].tolist()
        df["is_fatigued"] = df["customer_id"].isin(excluded)
    keep = ["price_sensitivity", "is_fatigued"]
    if segments is not None:
        df = df.merge(as_frame(segments)[["customer_id", "segment_name"]], on="customer_id", how="left")
        keep.append("segment_name")
    if max_contacts is None and max_contacts_share is not None:
        max_contacts = max(1, math.ceil(float(max_contacts_share) * len(df)))
    table = build_target_list(df, budget=budget, k=max_contacts, contact_cost=contact_cost, margin_rate=margin,
                              discount="discount_rate", send_times=send, exclude=excluded,
                              include_unselected=True, keep_columns=keep)
    table["promotion_id"] = promotion_id
    table["promotion_discount_rate"] = float(promo["discount_rate"])
    table["contact_cost"] = contact_cost
    table["margin_rate"] = margin
    n_sel = int((table["status"] == "selected").sum())
    log_line(f"campaign {promotion_id}: {n_sel} of {len(table)} customers selected "
             f"(max {max_contacts}, budget {budget}), expected profit "
             f"{table.loc[table['status'] == 'selected', 'expected_profit'].sum():.2f}")
    return typed_frame(table, TARGET_LIST_COLUMNS)


def broadcast_vs_targeted(target_list) -> pd.DataFrame:
    """Expected economics of contacting every candidate with the promotion's flat discount (broadcast)
    against contacting the selected ones with their personalised discounts (targeted)."""
    t = as_frame(target_list)
    if t.empty:
        return typed_frame(None, BROADCAST_COLUMNS)
    promotion_id = str(t["promotion_id"].iloc[0])
    cmp = compare_broadcast_targeted(t, t[t["status"] == "selected"], float(t["contact_cost"].iloc[0]),
                                     margin_rate=float(t["margin_rate"].iloc[0]), discount="discount_rate",
                                     broadcast_discount=float(t["promotion_discount_rate"].iloc[0]))
    cmp["promotion_id"] = promotion_id
    return typed_frame(cmp, BROADCAST_COLUMNS)


def export_campaign_targets(warehouse, out, *, table: str = "ml.ml_campaign_target_list") -> Path:
    """Write the selected customers of the campaign target list to a CSV file (read-only, short connection).

    The CLI wiring (``retail-lift export-targets --out PATH``) calls this; columns and order as
    :func:`~retail_lift.campaign.export_target_list`.
    """
    from retail_lift.warehouse import read_only

    with read_only(warehouse) as con:
        df = con.execute(f"select * from {table} where status = 'selected' order by rank").df()
    return export_target_list(df.drop(columns=["status"]), out)
