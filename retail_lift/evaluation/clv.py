"""How good is the CLV model? A calibration/holdout split of the orders log, and the simulated world's truth.

* :func:`calibration_holdout_summary` turns an orders log into the BTYD summary of a calibration period
  (orders up to ``calibration_end``) plus each customer's realised repeat purchase days and spend in the
  holdout ``(calibration_end, holdout_end]`` (the method of Fader, Hardie & Lee 2005 and of ``lifetimes``'
  ``calibration_and_holdout_data``; purchase days as in ``fct_customer_ltv_inputs``).
* :func:`holdout_evaluation` fits :func:`retail_lift.clv.lifetime_value_table` on the calibration summary
  and compares, by calibration frequency bucket and in total, the predicted holdout purchases and spend with
  the realised ones.
* :func:`truth_comparison` compares the warehouse's 365-day expected purchases and expected spend per
  purchase with the simulated world's truth: each customer's true order rate (online + store, per day)
  over the part of the next 365 days they are really active, and their true mean order value.

:func:`clv_evaluation` stacks both into the table of ``ml_eval_clv_vs_truth``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift import clv
from retail_lift.evaluation.truth import EVALUATION_SCHEMAS
from retail_lift.settings import number, set_fields

#: Calibration frequency buckets: (label, lowest, highest).
FREQUENCY_BUCKETS = [("0", 0, 0), ("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4-6", 4, 6), ("7+", 7, np.inf)]

#: Columns of the evaluation table (ml_eval_clv_vs_truth), declared with the other evaluation models.
EVALUATION_COLUMNS = EVALUATION_SCHEMAS["ml_eval_clv_vs_truth"]


def _bucket(frequency: np.ndarray) -> np.ndarray:
    out = np.empty(len(frequency), dtype=object)
    for label, lo, hi in FREQUENCY_BUCKETS:
        out[(frequency >= lo) & (frequency <= hi)] = label
    return out


def _relative_error(predicted: float, realised: float) -> float:
    return float(predicted / realised - 1.0) if realised and np.isfinite(realised) else np.nan


def calibration_holdout_summary(orders: pd.DataFrame, calibration_end, holdout_end) -> pd.DataFrame:
    """BTYD summary at ``calibration_end`` (a date, inclusive) plus realised holdout purchase days and spend.

    ``orders`` needs ``customer_id``, ``ordered_at`` and ``amount``. Purchases on one calendar day are one
    purchase occasion. Customers whose first order falls after ``calibration_end`` are not in the summary.
    Returns ``customer_id, frequency, recency, T, monetary_value, total_amount, holdout_purchases,
    holdout_spend`` (times in days).
    """
    missing = [c for c in ("customer_id", "ordered_at", "amount") if c not in orders.columns]
    if missing:
        raise ValueError(f"orders is missing column(s) {', '.join(missing)}")
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = pd.Timestamp(holdout_end).normalize()
    if hold_end <= cal_end:
        raise ValueError(f"holdout_end ({hold_end.date()}) must be after calibration_end ({cal_end.date()})")
    at = orders["ordered_at"]
    at = at if pd.api.types.is_datetime64_any_dtype(at) else pd.to_datetime(at, format="ISO8601")
    day = at.dt.tz_localize(None).dt.normalize()
    days = (pd.DataFrame({"customer_id": orders["customer_id"].astype("string"), "day": day,
                          "amount": pd.to_numeric(orders["amount"], errors="coerce")})
            .groupby(["customer_id", "day"], as_index=False)["amount"].sum(min_count=1))
    cal = days[days["day"] <= cal_end].sort_values(["customer_id", "day"])
    hold = days[(days["day"] > cal_end) & (days["day"] <= hold_end)]
    g = cal.groupby("customer_id")
    first = g["day"].min()
    summary = pd.DataFrame({
        "n_days": g.size(), "first": first, "last": g["day"].max(),
        "total_amount": g["amount"].sum(min_count=1), "first_amount": g["amount"].first(),
    })
    freq = summary["n_days"] - 1
    out = pd.DataFrame({
        "customer_id": summary.index.astype("string"),
        "frequency": freq.to_numpy(dtype=float),
        "recency": (summary["last"] - summary["first"]).dt.days.to_numpy(dtype=float),
        "T": (cal_end - summary["first"]).dt.days.to_numpy(dtype=float),
        "monetary_value": np.where(freq > 0, (summary["total_amount"] - summary["first_amount"])
                                   / freq.where(freq > 0, 1), 0.0),
        "total_amount": summary["total_amount"].to_numpy(dtype=float),
    })
    h = hold.groupby("customer_id").agg(holdout_purchases=("day", "size"), holdout_spend=("amount", "sum"))
    out = out.merge(h, how="left", left_on="customer_id", right_index=True)
    out["holdout_purchases"] = out["holdout_purchases"].fillna(0).astype(float)
    out["holdout_spend"] = out["holdout_spend"].fillna(0.0).astype(float)
    return out.reset_index(drop=True)


def _params_of(params: pd.DataFrame, model: str, keys) -> dict | None:
    rows = params[params["model"] == model].set_index("parameter")["value"]
    vals = {k: float(rows[k]) for k in keys}
    return None if any(not np.isfinite(v) for v in vals.values()) else vals


def holdout_evaluation(summary: pd.DataFrame, holdout_days: float, *, penalizer: float = 0.0,
                       target: float = 0.05) -> pd.DataFrame:
    """Fit on the calibration summary, predict the holdout: one row per frequency bucket and one for all.

    ``predicted_purchases`` = sum of the BG/NBD conditional expectation over ``holdout_days``;
    ``predicted_spend`` = sum of that times the Gamma-Gamma expected spend per purchase (customers whose
    spend is not estimable are left out of both spend sums). Errors are ``predicted / realised - 1``.
    The ``all`` row carries the target on the total purchases (``|error| <= target``).
    """
    scores, params = clv.lifetime_value_table(summary, penalizer=penalizer)
    status = str(scores["clv_status"].iloc[0]) if len(scores) else "no customers"
    bg = _params_of(params, "bg_nbd", ("r", "alpha", "a", "b"))
    x = summary["frequency"].to_numpy(dtype=float)
    if bg is not None:
        pred = clv.expected_purchases(bg, float(holdout_days), x, summary["recency"].to_numpy(dtype=float),
                                      summary["T"].to_numpy(dtype=float))
    else:
        pred = np.full(len(summary), np.nan)
    spend = scores["expected_avg_spend"].to_numpy(dtype=float)
    real = summary["holdout_purchases"].to_numpy(dtype=float)
    real_spend = summary["holdout_spend"].to_numpy(dtype=float)
    buckets = _bucket(x)
    rows = []
    for label in [b[0] for b in FREQUENCY_BUCKETS] + ["all"]:
        sel = np.ones(len(x), bool) if label == "all" else buckets == label
        has_spend = sel & np.isfinite(spend)
        p_sum, r_sum = float(pred[sel].sum()), float(real[sel].sum())
        ps, rs = float((pred * spend)[has_spend].sum()), float(real_spend[has_spend].sum())
        err = _relative_error(p_sum, r_sum)
        pps = float(np.mean(spend[has_spend])) if has_spend.any() else np.nan
        rps = rs / float(real[has_spend].sum()) if real[has_spend].sum() else np.nan
        rows.append({
            "evaluation": "holdout", "frequency_bucket": label, "customers": int(sel.sum()),
            "predicted_purchases": p_sum if bg is not None else np.nan, "realised_purchases": r_sum,
            "purchases_error": err if bg is not None else np.nan,
            "predicted_spend_per_purchase": pps, "realised_spend_per_purchase": rps,
            "spend_per_purchase_error": _relative_error(pps, rps),
            "predicted_spend": ps if bg is not None and has_spend.any() else np.nan, "realised_spend": rs,
            "spend_error": _relative_error(ps, rs) if bg is not None and has_spend.any() else np.nan,
            "mean_abs_error_purchases": float(np.mean(np.abs(pred[sel] - real[sel]))) if sel.any() else np.nan,
            "target_abs_error": target if label == "all" else np.nan,
            "meets_target": (bool(abs(err) <= target) if np.isfinite(err) and bg is not None else None)
            if label == "all" else None,
            "status": status,
        })
    return _typed(pd.DataFrame(rows))


def truth_comparison(scores: pd.DataFrame, truth_customers: pd.DataFrame, snapshot_date, *,
                     horizon_days: float = 365.0, target: float = 0.10) -> pd.DataFrame:
    """The warehouse's CLV scores against the simulated truth over the next ``horizon_days``.

    True expected purchases of a customer: ``(online_order_rate + store_order_rate) x`` the days of
    ``(snapshot, snapshot + horizon]`` in which they are active (``active_from`` .. ``active_until``);
    organic orders only (promotions add a few), and orders, where the model counts purchase days (two
    orders on a day are one). True spend per purchase: ``mean_order_value``. The row of one-time buyers
    (bucket ``0``) carries the spend target: ``|predicted / true - 1| <= target``.
    """
    need = ["customer_id", "active_from", "active_until", "online_order_rate", "store_order_rate",
            "mean_order_value"]
    missing = [c for c in need if c not in truth_customers.columns]
    if missing:
        raise ValueError(f"truth_customers is missing column(s) {', '.join(missing)}")
    start = pd.Timestamp(snapshot_date).normalize() + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=horizon_days)
    t = truth_customers.assign(customer_id=truth_customers["customer_id"].astype("string"))
    merged = scores.assign(customer_id=scores["customer_id"].astype("string")).merge(
        t[need], on="customer_id", how="left")
    if merged["online_order_rate"].isna().any():
        i = int(np.flatnonzero(merged["online_order_rate"].isna().to_numpy())[0])
        raise ValueError(f"truth_customers has no row for scored customer {merged['customer_id'].iloc[i]!r}")
    lo = pd.to_datetime(merged["active_from"]).clip(lower=start)
    hi = pd.to_datetime(merged["active_until"]).clip(upper=end)
    active_days = ((hi - lo).dt.total_seconds() / 86400.0).clip(lower=0).to_numpy()
    true_purchases = (merged["online_order_rate"] + merged["store_order_rate"]).to_numpy() * active_days
    pred = merged["expected_purchases_365d"].to_numpy(dtype=float) * horizon_days / 365.0
    spend = merged["expected_avg_spend"].to_numpy(dtype=float)
    mov = merged["mean_order_value"].to_numpy(dtype=float)
    x = merged["frequency"].to_numpy(dtype=float)
    status = str(scores["clv_status"].iloc[0]) if len(scores) else "no customers"
    buckets = _bucket(x)
    rows = []
    for label in [b[0] for b in FREQUENCY_BUCKETS] + ["all"]:
        sel = np.ones(len(x), bool) if label == "all" else buckets == label
        has_spend = sel & np.isfinite(spend)
        p_sum, r_sum = float(np.sum(pred[sel])), float(np.sum(true_purchases[sel]))
        pps = float(np.mean(spend[has_spend])) if has_spend.any() else np.nan
        rps = float(np.mean(mov[has_spend])) if has_spend.any() else np.nan
        spend_err = _relative_error(pps, rps)
        ps = float(np.sum((pred * spend)[has_spend])) if has_spend.any() else np.nan
        rs = float(np.sum((true_purchases * mov)[has_spend])) if has_spend.any() else np.nan
        rows.append({
            "evaluation": f"truth_{int(horizon_days)}d", "frequency_bucket": label, "customers": int(sel.sum()),
            "predicted_purchases": p_sum, "realised_purchases": r_sum,
            "purchases_error": _relative_error(p_sum, r_sum),
            "predicted_spend_per_purchase": pps, "realised_spend_per_purchase": rps,
            "spend_per_purchase_error": spend_err, "predicted_spend": ps, "realised_spend": rs,
            "spend_error": _relative_error(ps, rs),
            "mean_abs_error_purchases": float(np.mean(np.abs(pred[sel] - true_purchases[sel]))) if sel.any()
            else np.nan,
            "target_abs_error": target if label == "0" else np.nan,
            "meets_target": (bool(abs(spend_err) <= target) if np.isfinite(spend_err) else None)
            if label == "0" else None,
            "status": status,
        })
    return _typed(pd.DataFrame(rows))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return df[list(EVALUATION_COLUMNS)].astype(EVALUATION_COLUMNS)


@dataclass(frozen=True)
class EvalClvVsTruthConfig:
    """The settings of ``ml_eval_clv_vs_truth`` and their defaults (its yml states the same); each is the
    keyword of :func:`clv_evaluation` of the same name (:meth:`kwargs`)."""

    #: days of the holdout: the calibration period ends this many days before the score snapshot
    holdout_days: int = 61
    #: L2 penalty of the calibration fit (0: plain maximum likelihood, as ml_customer_lifetime_value)
    penalizer: float = 0.0
    #: the holdout ``all`` row meets its target when |total purchases error| <= this
    holdout_target: float = 0.05
    #: the truth row of the one-time buyers meets its target when |spend per purchase error| <= this
    spend_target: float = 0.10

    def __post_init__(self):
        m = "ml_eval_clv_vs_truth"
        set_fields(self, holdout_days=number(m, "holdout_days", self.holdout_days, integer=True, low=1),
                   penalizer=number(m, "penalizer", self.penalizer, low=0),
                   holdout_target=number(m, "holdout_target", self.holdout_target, low=0),
                   spend_target=number(m, "spend_target", self.spend_target, low=0))

    def kwargs(self) -> dict:
        """The keywords of :func:`clv_evaluation`."""
        return dataclasses.asdict(self)


def clv_evaluation(orders: pd.DataFrame, scores: pd.DataFrame, truth_customers: pd.DataFrame, snapshot_date, *,
                   holdout_days: int = EvalClvVsTruthConfig.holdout_days,
                   penalizer: float = EvalClvVsTruthConfig.penalizer,
                   holdout_target: float = EvalClvVsTruthConfig.holdout_target,
                   spend_target: float = EvalClvVsTruthConfig.spend_target) -> pd.DataFrame:
    """The holdout rows (calibration up to ``snapshot_date - holdout_days``) and the truth rows, stacked."""
    snap = pd.Timestamp(snapshot_date).normalize()
    summary = calibration_holdout_summary(orders, snap - pd.Timedelta(days=holdout_days), snap)
    holdout = holdout_evaluation(summary, holdout_days, penalizer=penalizer, target=holdout_target)
    truth = truth_comparison(scores, truth_customers, snap, target=spend_target)
    return pd.concat([holdout, truth], ignore_index=True)
