"""The classifiers and the campaign against the simulated world's true purchase probabilities.

:func:`predict_oracle_comparison` (``ml_predict_oracle_comparison``) sets each classifier's holdout metrics
next to the oracle's; :func:`campaign_oracle_comparison` (``ml_campaign_oracle_comparison``) values the
broadcast and the targeted campaign under the model's expectations and under the truth. Both were in
``retail_lift.pipelines`` before issue 22; only :mod:`retail_lift.evaluation` reads the truth (``make lint``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.campaign import compare_broadcast_targeted
from retail_lift.frames import as_frame, typed_frame
from retail_lift.predict import classification_metrics, oracle_metrics, oracle_ratio
from retail_lift.settings import number, set_fields

__all__ = [
    "CAMPAIGN_ORACLE_COLUMNS",
    "PREDICT_ORACLE_COLUMNS",
    "CampaignOracleComparisonConfig",
    "PredictOracleComparisonConfig",
    "campaign_oracle_comparison",
    "predict_oracle_comparison",
    "window_purchase_probability",
]


@dataclass(frozen=True)
class PredictOracleComparisonConfig:
    """The settings of ``ml_predict_oracle_comparison`` and their defaults (its yml states the same, the label
    window through the dbt var ``label_window_days``); :meth:`kwargs` are the keywords of
    :func:`predict_oracle_comparison`."""

    #: days of the label window after the cutoff (the classifiers' label: any order in it); a var passed on the
    #: command line may arrive as a string
    label_window_days: float = 30.0
    #: the model's AUC over the oracle's AUC should reach this (meets_target)
    target_auc_ratio: float = 0.9

    def __post_init__(self):
        m = "ml_predict_oracle_comparison"
        set_fields(self, label_window_days=number(m, "label_window_days", self.label_window_days, low=0,
                                                  low_open=True, rendered=True),
                   target_auc_ratio=number(m, "target_auc_ratio", self.target_auc_ratio, low=0))

    def kwargs(self) -> dict:
        """The keywords of :func:`predict_oracle_comparison`."""
        return {"window_days": self.label_window_days, "target_ratio": self.target_auc_ratio}


@dataclass(frozen=True)
class CampaignOracleComparisonConfig:
    """The settings of ``ml_campaign_oracle_comparison`` and their defaults (its yml states the same, through
    the dbt var ``attribution_days``); :meth:`kwargs` are the keywords of :func:`campaign_oracle_comparison`."""

    #: days after the send in which a conversion counts for the campaign (a var passed on the command line may
    #: arrive as a string)
    attribution_days: float = 14.0

    def __post_init__(self):
        set_fields(self, attribution_days=number("ml_campaign_oracle_comparison", "attribution_days",
                                                 self.attribution_days, low=0, low_open=True, rendered=True))

    def kwargs(self) -> dict:
        """The keywords of :func:`campaign_oracle_comparison`."""
        return {"attribution_days": self.attribution_days}


def window_purchase_probability(rate_per_day, active_from, active_until, window_start, window_days: float):
    """``1 - exp(-rate * d)`` with ``d`` the days of ``[window_start, window_start + window_days)`` inside
    the customer's active period ``[active_from, active_until)``: the probability of at least one order of
    a Poisson process with that daily rate (the simulated world's organic purchases)."""
    rate = np.asarray(rate_per_day, dtype=float)
    start = pd.to_datetime(pd.Series(window_start)).to_numpy("datetime64[us]")
    lo = np.maximum(start, pd.to_datetime(pd.Series(active_from)).to_numpy("datetime64[us]"))
    end = start + np.timedelta64(int(round(window_days * 86400)), "s")
    hi = np.minimum(end, pd.to_datetime(pd.Series(active_until)).to_numpy("datetime64[us]"))
    days = np.maximum((hi - lo) / np.timedelta64(1, "s"), 0.0) / 86400.0
    return 1.0 - np.exp(-np.nan_to_num(rate) * days)


PREDICT_ORACLE_COLUMNS = {
    "classifier": "str", "model": "str", "is_chosen_model": "bool", "n": "int", "positives": "int",
    "model_roc_auc": "float", "oracle_roc_auc": "float", "auc_ratio": "float", "gini_ratio": "float",
    "model_log_loss": "float", "oracle_log_loss": "float", "model_brier": "float", "oracle_brier": "float",
    "mean_abs_error_vs_true": "float", "target_auc_ratio": "float", "meets_target": "bool",
    "score_rows": "int", "score_rank_correlation": "float", "score_mean_abs_error_vs_true": "float",
}


def _true_probabilities(ids: pd.Series, rates: pd.DataFrame, window_start, window_days: float) -> np.ndarray:
    r = rates.set_index("customer_id").reindex(ids.to_numpy())
    rate = r["online_order_rate"].to_numpy(float) + r["store_order_rate"].to_numpy(float)
    return window_purchase_probability(rate, r["active_from"], r["active_until"],
                                       np.repeat(np.datetime64(pd.Timestamp(window_start), "us"), len(r)),
                                       window_days)


def predict_oracle_comparison(fits: Mapping[str, object], customer_rates, snapshots, *,
                              window_days: float = PredictOracleComparisonConfig.label_window_days,
                              target_ratio: float = PredictOracleComparisonConfig.target_auc_ratio) -> pd.DataFrame:
    """Each model's holdout metrics next to the oracle's: the true purchase probabilities of the same
    holdout customers over the same label window (the holdout rows' ``split_feature_date``, i.e. the
    out-of-time test snapshot's cutoff, or else the train snapshot's ``feature_cutoff_at``, + ``window_days``).

    ``fits`` maps a classifier name to its fit table; only labels that are "any order in the window" have a
    true probability (purchase propensity; returning customer = a first-time buyer's next order).
    ``auc_ratio`` = model AUC / oracle AUC (target ``>= target_ratio``), ``gini_ratio`` the same above
    chance (0.5). For the chosen model the deployed scores are also compared with the true probabilities
    over the window after the score cutoff (rank correlation, mean absolute error).
    """
    rates = as_frame(customer_rates)
    snap = as_frame(snapshots).set_index("snapshot_role")
    rows = []
    for classifier, fit in fits.items():
        f = as_frame(fit)
        for model, h in f[f["record_type"] == "holdout"].groupby("model", sort=True):
            y = h["label"].astype(int).to_numpy()
            p = h["probability"].to_numpy(float)
            # out of time the holdout is the test snapshot, whose cutoff its rows carry (split_feature_date)
            cutoff = (h["split_feature_date"].dropna().iloc[0]
                      if "split_feature_date" in h.columns and h["split_feature_date"].notna().any()
                      else snap.loc["train", "feature_cutoff_at"])
            true_p = _true_probabilities(h["customer_id"], rates, pd.Timestamp(cutoff), window_days)
            ok = ~np.isnan(true_p)
            if not ok.any():  # no ground truth for these customers (data not from the simulator)
                continue
            y, p, true_p = y[ok], p[ok], true_p[ok]
            mine = classification_metrics(y, p, k=(10,))
            oracle = oracle_metrics(y, true_p, k=(10,))
            both = np.isfinite(mine["roc_auc"]) and np.isfinite(oracle["roc_auc"])
            chosen = bool(h["is_chosen_model"].iloc[0])
            row = {
                "classifier": classifier, "model": model, "is_chosen_model": chosen, "n": len(y),
                "positives": int(y.sum()), "model_roc_auc": mine["roc_auc"], "oracle_roc_auc": oracle["roc_auc"],
                "auc_ratio": oracle_ratio(mine["roc_auc"], oracle["roc_auc"]) if both else np.nan,
                "gini_ratio": (oracle_ratio(mine["roc_auc"], oracle["roc_auc"], chance=0.5)
                               if both and oracle["roc_auc"] > 0.5 else np.nan),
                "model_log_loss": mine["log_loss"], "oracle_log_loss": oracle["log_loss"],
                "model_brier": mine["brier"], "oracle_brier": oracle["brier"],
                "mean_abs_error_vs_true": float(np.mean(np.abs(p - true_p))) if len(p) else np.nan,
                "target_auc_ratio": target_ratio,
            }
            row["meets_target"] = bool(both and row["auc_ratio"] >= target_ratio)
            if chosen:
                sc = f[f["record_type"] == "score"]
                true_s = _true_probabilities(sc["customer_id"], rates, snap.loc["score", "feature_cutoff_at"],
                                             window_days)
                ok_s = ~np.isnan(true_s)
                ps = sc["probability"].to_numpy(float)[ok_s]
                row["score_rows"] = int(ok_s.sum())
                if ok_s.sum() > 1:
                    row["score_rank_correlation"] = float(pd.Series(ps).corr(pd.Series(true_s[ok_s]),
                                                                            method="spearman"))
                    row["score_mean_abs_error_vs_true"] = float(np.mean(np.abs(ps - true_s[ok_s])))
            rows.append(row)
    return typed_frame(pd.DataFrame(rows), PREDICT_ORACLE_COLUMNS)


CAMPAIGN_ORACLE_COLUMNS = {
    "strategy": "str", "basis": "str", "promotion_id": "str", "contacts": "int", "conversions": "float",
    "revenue": "float", "discount_cost": "float", "cost": "float", "profit": "float", "roi": "float",
    "conversion_rate": "float",
}


def _true_campaign_response(ids: pd.Series, rates: pd.DataFrame, arms: pd.DataFrame, promotion_id: str,
                            send_at, attribution_days: float) -> pd.DataFrame:
    """True conversion probability in the attribution window after ``send_at``, with and without the offer.

    The per customer x arm response of the simulated world is given at its own reference time; the offer's
    effect is carried over to ``send_at`` with the organic probability ``p0`` of that window: a promotion
    that adds orders keeps its extra-conversion probability ``e = 1 - (1 - p) / (1 - p_control)``
    (``p = 1 - (1 - p0)(1 - e)``), one that suppresses them keeps its ratio ``p / p_control``
    (``p = p0 * ratio``).
    """
    a = as_frame(arms)
    ctrl = a[a["promotion_id"] == "control"].set_index("customer_id")["p_convert"]
    arm = a[a["promotion_id"] == promotion_id].set_index("customer_id")
    p_arm = arm["p_convert"].reindex(ids.to_numpy()).to_numpy(float)
    p_ctl = ctrl.reindex(ids.to_numpy()).to_numpy(float)
    p0 = _true_probabilities(ids, rates, send_at, attribution_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        extra = 1.0 - (1.0 - p_arm) / np.where(p_ctl < 1, 1.0 - p_ctl, np.nan)
        ratio = np.where(p_ctl > 0, p_arm / np.where(p_ctl > 0, p_ctl, 1.0), 1.0)
    p = np.where(p_arm >= p_ctl, 1.0 - (1.0 - p0) * (1.0 - np.nan_to_num(extra)), p0 * ratio)
    r = rates.set_index("customer_id").reindex(ids.to_numpy())
    return pd.DataFrame({"p_offer": np.clip(p, 0, 1), "p_control": p0,
                         "mean_order_value": r["mean_order_value"].to_numpy(float)})


def campaign_oracle_comparison(target_list, customer_rates, customer_arms, snapshots, *,
                               attribution_days: float = CampaignOracleComparisonConfig.attribution_days
                               ) -> pd.DataFrame:
    """Broadcast versus targeted under the model's expectations and under the simulated world's truth.

    One row per strategy (``broadcast``, ``targeted``) x basis: ``model_expected`` (the target list's own
    probabilities and order values), ``true_attributed`` (true conversion probability with the offer in the
    attribution window after the score cutoff, true mean order value) and ``true_incremental`` (the same
    minus what the customer would have bought without the offer). Same contacts, discounts, contact cost
    and margin as the campaign. The simulated response does not depend on the discount level.
    """
    t = as_frame(target_list)
    rates = as_frame(customer_rates)
    if t.empty or not t["customer_id"].isin(rates["customer_id"]).any():
        return typed_frame(None, CAMPAIGN_ORACLE_COLUMNS)
    promotion_id = str(t["promotion_id"].iloc[0])
    send_at = as_frame(snapshots).set_index("snapshot_role").loc["score", "feature_cutoff_at"]
    true = _true_campaign_response(t["customer_id"], rates, customer_arms, promotion_id, send_at, attribution_days)
    t = t.reset_index(drop=True).assign(p_offer=true["p_offer"].fillna(0.0).to_numpy(),
                                        p_control=true["p_control"].fillna(0.0).to_numpy(),
                                        true_order_value=true["mean_order_value"].fillna(0.0).to_numpy())
    selected = t[t["status"] == "selected"]
    kw = dict(margin_rate=float(t["margin_rate"].iloc[0]), discount="discount_rate",
              broadcast_discount=float(t["promotion_discount_rate"].iloc[0]))
    c = float(t["contact_cost"].iloc[0])
    bases = {
        "model_expected": dict(probability_column="purchase_probability", avg_order_value="avg_order_value"),
        "true_attributed": dict(probability_column="p_offer", avg_order_value="true_order_value"),
        "true_incremental": dict(probability_column="p_offer", avg_order_value="true_order_value",
                                 baseline_probability="p_control"),
    }
    rows = []
    for basis, extra in bases.items():
        cmp = compare_broadcast_targeted(t, selected, c, **kw, **extra)
        for _, r in cmp.iterrows():
            rows.append({"strategy": r["strategy"], "basis": basis, "promotion_id": promotion_id,
                         "contacts": r["contacts"], "conversions": r["expected_conversions"],
                         "revenue": r["expected_revenue"], "discount_cost": r["expected_discount_cost"],
                         "cost": r["expected_cost"], "profit": r["expected_profit"], "roi": r["expected_roi"],
                         "conversion_rate": r["expected_conversion_rate"]})
    return typed_frame(pd.DataFrame(rows), CAMPAIGN_ORACLE_COLUMNS)
