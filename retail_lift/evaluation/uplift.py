"""The uplift models against the simulated world's true effects (evaluation only: reads the truth).

:func:`evaluate_uplift_against_truth` compares each arm's out-of-sample Qini with the oracle Qini of the
true effects of the same exposures (``ml_eval_uplift_vs_truth``); :func:`evaluate_targeting_against_truth`
values each targeting strategy with the true probabilities (``ml_eval_targeting_vs_truth``). Both were in
``retail_lift.uplift.pipeline`` before issue 22: the uplift family keeps only the algorithms, and only
:mod:`retail_lift.evaluation` reads the truth (``make lint``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.frames import nullable_typed
from retail_lift.model_gate import heavy
from retail_lift.settings import choice, flag, number, set_fields
from retail_lift.uplift.economics import economics_rows, id_ranks, promotion_terms, top_k_mask, top_k_order
from retail_lift.uplift.features import require_columns
from retail_lift.uplift.metrics import qini_auc_from_true_uplift, qini_auc_score, safe_score
from retail_lift.uplift.selection import BASE_LEARNERS, LEARNERS

__all__ = ["EVALUATION_COLUMNS", "TARGETING_COLUMNS", "EvalTargetingVsTruthConfig", "EvalUpliftVsTruthConfig",
           "evaluate_targeting_against_truth", "evaluate_uplift_against_truth", "gain_ratio", "true_order_value"]


@dataclass(frozen=True)
class EvalUpliftVsTruthConfig:
    """The settings of ``ml_eval_uplift_vs_truth`` and their defaults (its yml states the same).

    :meth:`evaluation_kwargs` are the keywords of :func:`evaluate_uplift_against_truth`, :meth:`limits_kwargs`
    those of :func:`retail_lift.evaluation.uplift_limits.uplift_limits` (whose defaults are these).
    """

    #: the qini_oracle_ratio the model should reach (meets_target)
    target_ratio: float = 0.7
    #: bootstrap resamples of the evaluated rows for the 90 % interval of the ratio (0 skips it)
    n_bootstrap: int = 200
    #: seed of the bootstrap and of the limits' refits
    random_state: int = 0
    #: measure the two limits (feature ceiling, type revealed); false leaves their columns NULL
    measure_limits: bool = True
    #: the learner the type-revealed refit uses: that of ``ml_uplift_run`` (a pytest checks they agree)
    learner: str = "auto"
    #: its outcome-model family: that of ``ml_uplift_run``
    base_learner: str = "auto"
    #: training exposures the feature-ceiling regressions are fitted on (a seeded sample above it)
    limits_max_rows: int = 40000

    def __post_init__(self):
        m = "ml_eval_uplift_vs_truth"
        set_fields(self, target_ratio=number(m, "target_ratio", self.target_ratio, low=0),
                   n_bootstrap=number(m, "n_bootstrap", self.n_bootstrap, integer=True, low=0),
                   random_state=number(m, "random_state", self.random_state, integer=True, low=0),
                   measure_limits=flag(m, "measure_limits", self.measure_limits),
                   learner=choice(m, "learner", self.learner, ("auto", *LEARNERS)),
                   base_learner=choice(m, "base_learner", self.base_learner, ("auto", *BASE_LEARNERS)),
                   limits_max_rows=number(m, "limits_max_rows", self.limits_max_rows, integer=True, low=1))

    def evaluation_kwargs(self) -> dict:
        """The keywords of :func:`evaluate_uplift_against_truth`."""
        return {"target_ratio": self.target_ratio, "n_bootstrap": self.n_bootstrap, "random_state": self.random_state}

    def limits_kwargs(self) -> dict:
        """The settings among the keywords of :func:`~retail_lift.evaluation.uplift_limits.uplift_limits`."""
        return {"learner": self.learner, "base_learner": self.base_learner, "random_state": self.random_state,
                "max_rows": self.limits_max_rows}


@dataclass(frozen=True)
class EvalTargetingVsTruthConfig:
    """The settings of ``ml_eval_targeting_vs_truth``: none. The margin rate and the shares targeted are those
    of the uplift run, read from its ``ml_uplift_incremental_roi`` (the ``model_roi`` of
    :func:`evaluate_targeting_against_truth`), so that both tables value the same lists the same way; the
    control arm is the simulated world's ``control``. The empty config keeps the model in the checked list
    (it reads no key and its yml states none)."""

EVALUATION_COLUMNS = [
    "experiment_id", "promotion_id", "learner", "evaluation_method", "n_treated", "n_control", "model_qini",
    "oracle_qini",
    "qini_oracle_ratio", "ratio_ci_low", "ratio_ci_high", "true_gain_ratio", "pearson_correlation",
    "spearman_correlation", "mean_predicted_uplift", "mean_true_uplift", "target_ratio", "meets_target",
]
TARGETING_COLUMNS = [
    "promotion_id", "experiment_id", "strategy", "k_fraction", "customers_targeted",
    "true_incremental_conversions", "true_incremental_revenue", "true_discount_cost", "true_contact_cost",
    "true_incremental_margin", "discount_rate", "contact_cost", "margin_rate", "margin_vs_propensity",
    "expected_incremental_conversions", "expected_incremental_margin",
]
#: the pandas types of the columns of both tables that are not float64
_TYPES = {"experiment_id": "string", "promotion_id": "string", "learner": "string", "evaluation_method": "string",
          "strategy": "string", "n_treated": "Int64", "n_control": "Int64", "customers_targeted": "Int64",
          "meets_target": "boolean"}


def _typed_table(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the column types of :data:`_TYPES` (float64 otherwise), also when it is empty."""
    return nullable_typed(df, _TYPES)


def gain_ratio(score: np.ndarray, true_uplift: np.ndarray) -> float:
    """Noise-free targeting quality: area between the cumulative true-uplift curve of the ranking by
    ``score`` and the random line, divided by the same area for the ranking by ``true_uplift``."""
    n = true_uplift.size
    if n < 2:
        return float("nan")

    def area(order):
        curve = np.r_[0.0, np.cumsum(true_uplift[order])]
        return np.trapezoid(curve, dx=1.0) - curve[-1] * n / 2.0

    best = area(np.argsort(-true_uplift, kind="mergesort"))
    if not best > 0:
        return float("nan")
    return float(area(np.argsort(-score, kind="mergesort")) / best)


def true_order_value(p1: np.ndarray, p0: np.ndarray, revenue1: np.ndarray, revenue0: np.ndarray,
                     discount_rate) -> np.ndarray:
    """Each customer's true order value at full price from the simulated truth of one arm and the control
    (``truth_customer_arms``: ``p_convert`` and ``expected_revenue``): the control's revenue per conversion,
    else (a control probability of 0) the arm's divided by ``1 - discount_rate`` (a number, or one per row);
    0 when neither converts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p0 > 0, revenue0 / np.where(p0 > 0, p0, 1.0),
                        np.where(p1 > 0, revenue1 / np.where(p1 > 0, p1, 1.0)
                                 / np.maximum(1.0 - np.asarray(discount_rate, dtype=float), 1e-12), 0.0))


@heavy
def evaluate_uplift_against_truth(
    holdout_predictions: pd.DataFrame,
    true_effects: pd.DataFrame,
    *,
    target_ratio: float = EvalUpliftVsTruthConfig.target_ratio,
    n_bootstrap: int = EvalUpliftVsTruthConfig.n_bootstrap,
    random_state: int = EvalUpliftVsTruthConfig.random_state,
) -> pd.DataFrame:
    """Per arm: the model's out-of-sample Qini against the oracle Qini of the true effects of the same rows.

    The rows are those of ``holdout_predictions``: with cross-fitting (the default of
    :func:`fit_score_uplift`) every exposure of the experiment, each predicted by the learner fitted
    on the other folds; in the single-split mode the held-out exposures only. Either way no row's
    prediction comes from a model that saw it.

    Args:
        holdout_predictions: the ``holdout_predictions`` table of :func:`fit_score_uplift`.
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift``: the known effect of the arm
            at each exposure (simulated data).
        target_ratio: the ratio the model should reach (``meets_target``).
        n_bootstrap: resamples of the evaluated rows for the 90 % interval of the ratio (0 to skip).
            The resampling covers the outcome and sampling noise of the evaluated rows, not the
            variation of the fitted learners between training samples.
        random_state: seed of the resampling.

    Returns:
        One row per experiment x arm: ``learner``, ``evaluation_method`` (``cross_fitted_<K>_folds``
        when the predictions carry a ``fold`` number, else ``holdout``), ``n_treated``, ``n_control``,
        ``model_qini``
        (:func:`qini_auc_score` of the predicted uplift), ``oracle_qini``
        (:func:`qini_auc_from_true_uplift`), ``qini_oracle_ratio`` (model / oracle) with
        ``ratio_ci_low`` / ``ratio_ci_high`` (5th / 95th percentile over bootstrap resamples of the
        evaluated rows), ``true_gain_ratio`` (the same comparison on the cumulative *true* uplift instead of
        the realised outcomes, free of outcome noise: 1 = ranks like the truth, 0 = random),
        ``pearson_correlation`` and ``spearman_correlation`` of predicted and true uplift, the mean
        predicted and true uplift, and ``meets_target`` (``qini_oracle_ratio >= target_ratio``).
    """
    require_columns(holdout_predictions, "holdout_predictions",
                    ["exposure_id", "promotion_id", "experiment_id", "is_treated", "is_converted", "predicted_uplift"])
    require_columns(true_effects, "true_effects", ["exposure_id", "promotion_id", "true_uplift"])
    merged = holdout_predictions.merge(true_effects[["exposure_id", "promotion_id", "true_uplift"]],
                                       on=["exposure_id", "promotion_id"], how="left", validate="m:1")
    # the bootstrap resamples row positions: a fixed row order makes the interval independent of the order
    # in which the warehouse returns the (unordered) holdout table
    merged = merged.sort_values(["experiment_id", "promotion_id", "exposure_id"], kind="mergesort",
                                key=lambda s: s.astype(str)).reset_index(drop=True)
    rng = np.random.default_rng(random_state)
    rows = []
    for (exp_id, arm), g in merged.groupby(["experiment_id", "promotion_id"], sort=True):
        g = g[g["true_uplift"].notna()]
        y = g["is_converted"].astype(float).to_numpy()
        t = g["is_treated"].astype(bool).to_numpy().astype(int)
        u = g["predicted_uplift"].to_numpy(float)
        tau = g["true_uplift"].to_numpy(float)
        model_q = safe_score(qini_auc_score, y, u, t)
        oracle_q = safe_score(qini_auc_from_true_uplift, y, tau, t)
        ratio = model_q / oracle_q if oracle_q > 0 else float("nan")
        boot = []
        for _ in range(n_bootstrap if len(g) > 1 else 0):
            i = rng.integers(0, len(g), len(g))
            o = safe_score(qini_auc_from_true_uplift, y[i], tau[i], t[i])
            if o > 0:
                boot.append(safe_score(qini_auc_score, y[i], u[i], t[i]) / o)
        boot = np.asarray([b for b in boot if np.isfinite(b)])
        varies = len(g) > 2 and np.ptp(u) > 0 and np.ptp(tau) > 0
        folds = pd.to_numeric(g["fold"], errors="coerce").dropna() if "fold" in g else pd.Series([], dtype=float)
        method = f"cross_fitted_{folds.nunique()}_folds" if len(folds) else "holdout"
        rows.append({
            "experiment_id": exp_id, "promotion_id": arm,
            # each fold's learner was chosen on the other folds: the learners the folds used, e.g. "t/x"
            "learner": "/".join(sorted(g["learner"].dropna().astype(str).unique())) if "learner" in g and len(g)
            else None,
            "evaluation_method": method,
            "n_treated": int(t.sum()), "n_control": int((1 - t).sum()),
            "model_qini": model_q, "oracle_qini": oracle_q, "qini_oracle_ratio": ratio,
            "ratio_ci_low": float(np.quantile(boot, 0.05)) if boot.size else float("nan"),
            "ratio_ci_high": float(np.quantile(boot, 0.95)) if boot.size else float("nan"),
            "true_gain_ratio": gain_ratio(u, tau),
            "pearson_correlation": float(np.corrcoef(u, tau)[0, 1]) if varies else float("nan"),
            "spearman_correlation": float(pd.Series(u).corr(pd.Series(tau), method="spearman")) if varies
            else float("nan"),
            "mean_predicted_uplift": float(u.mean()) if len(g) else float("nan"),
            "mean_true_uplift": float(tau.mean()) if len(g) else float("nan"),
            "target_ratio": target_ratio,
            "meets_target": bool(ratio >= target_ratio) if np.isfinite(ratio) else False,
        })
    return _typed_table(pd.DataFrame(rows, columns=EVALUATION_COLUMNS))


def evaluate_targeting_against_truth(
    scores: pd.DataFrame,
    arm_effects: pd.DataFrame,
    *,
    promotions: Mapping | pd.DataFrame | None = None,
    margin_rate: float = 0.35,
    k_fractions: Sequence[float] = (0.1, 0.2, 0.3),
    model_roi: pd.DataFrame | None = None,
    control_arm: str = "control",
) -> pd.DataFrame:
    """True incremental conversions and margin of each targeting strategy, from known effects.

    For every arm of ``scores`` and every strategy x share ``k``, the customers selected by the
    model's ranking (``uplift``: top ``k`` by predicted uplift; ``propensity``: top ``k`` by predicted
    treated probability; ``everyone``), plus ``oracle`` (top ``k`` by the true uplift: the best a
    ranking can do), valued with the *true* probabilities:

    * ``true_incremental_conversions`` = sum of ``true_uplift`` over the selected customers;
    * revenue, discount cost, contact cost and ``true_incremental_margin`` with the arithmetic of
      :func:`retail_lift.campaign.targeting.expected_economics` (as ``incremental_roi``) using the true
      ``p_convert`` of the arm and of ``control_arm`` and the customer's true order value at full
      price (``expected_revenue / p_convert`` of the control, else of the arm divided by
      ``1 - discount_rate``).

    Args:
        scores: the ``scores`` table of :func:`fit_score_uplift`.
        arm_effects: one row per customer x promotion (``control_arm`` included) with ``customer_id``,
            ``promotion_id``, ``p_convert``, ``true_uplift`` and ``expected_revenue``.
        promotions, margin_rate, k_fractions: as in :func:`fit_score_uplift`.
        model_roi: the ``incremental_roi`` table of the same run (optional). When given, its
            ``margin_rate`` and shares ``k`` are used (so both tables value the same lists the same
            way) and its ``expected_incremental_conversions`` / ``expected_incremental_margin`` are
            joined on, for a side-by-side view of what the model expected and what the truth gives.
        control_arm: the promotion id of "no promotion" in ``arm_effects``.

    Returns:
        One row per arm x strategy x ``k_fraction`` with ``customers_targeted`` and the true
        ``true_incremental_conversions``, ``true_incremental_revenue``, ``true_discount_cost``,
        ``true_contact_cost``, ``true_incremental_margin``, ``margin_vs_propensity`` (this row's
        true margin minus that of the ``propensity`` strategy at the same ``k``; NULL for
        ``everyone``) and the model's ``expected_incremental_conversions`` /
        ``expected_incremental_margin`` (NULL without ``model_roi`` and for ``oracle``).
    """
    require_columns(scores, "scores",
                    ["customer_id", "promotion_id", "predicted_uplift", "predicted_treated_probability"])
    require_columns(arm_effects, "arm_effects",
                    ["customer_id", "promotion_id", "p_convert", "true_uplift", "expected_revenue"])
    if model_roi is not None:
        require_columns(model_roi, "model_roi", ["promotion_id", "strategy", "k_fraction", "margin_rate",
                                                 "expected_incremental_conversions", "expected_incremental_margin"])
        if len(model_roi):
            margin_rate = float(model_roi["margin_rate"].iloc[0])
            ks = model_roi.loc[model_roi["strategy"] != "everyone", "k_fraction"].dropna().unique()
            k_fractions = tuple(sorted(float(k) for k in ks)) or tuple(k_fractions)
    base = arm_effects[arm_effects["promotion_id"] == control_arm][["customer_id", "p_convert", "expected_revenue"]]
    base = base.rename(columns={"p_convert": "p0", "expected_revenue": "revenue0"})
    rows = []
    for arm, g in scores.groupby("promotion_id", sort=True):
        d, c = promotion_terms(promotions, arm)
        eff = arm_effects[arm_effects["promotion_id"] == arm][["customer_id", "p_convert", "true_uplift",
                                                               "expected_revenue"]]
        m = g.merge(eff, on="customer_id", how="inner").merge(base, on="customer_id", how="left")
        # sums over the selected customers in customer order: the same last bit whatever order the
        # warehouse returned the rows in
        m = m.sort_values("customer_id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
        if m.empty:
            continue
        p1 = m["p_convert"].to_numpy(float)
        p0 = m["p0"].fillna(0.0).to_numpy(float)
        r0 = m["revenue0"].fillna(0.0).to_numpy(float)
        r1 = m["expected_revenue"].to_numpy(float)
        v = true_order_value(p1, p0, r1, r0, d)
        ids = m["customer_id"].astype(str).to_numpy()
        ranks = {"uplift": m["predicted_uplift"].to_numpy(float),
                 "propensity": m["predicted_treated_probability"].to_numpy(float),
                 "everyone": p1, "oracle": m["true_uplift"].to_numpy(float)}
        econ_rows = economics_rows(p1, p0, ids, ranks, v=v, d=d, c=c, m=margin_rate,
                                   k_fractions=tuple(float(k) for k in k_fractions))
        true_uplift = m["true_uplift"].to_numpy(float)
        id_rank = id_ranks(ids)  # one sort of the ids, one of the scores per strategy
        orders = {k: top_k_order(v, ids, id_rank) for k, v in ranks.items() if k != "everyone"}
        for r in econ_rows:
            score = ranks[r["strategy"]]
            mask = (np.ones(len(ids), dtype=bool) if r["strategy"] == "everyone"
                    else top_k_mask(score, ids, r["k_fraction"], orders[r["strategy"]]))
            rows.append({
                "promotion_id": arm,
                "experiment_id": g["experiment_id"].iloc[0] if "experiment_id" in g else None,
                "strategy": r["strategy"], "k_fraction": r["k_fraction"],
                "customers_targeted": r["customers_targeted"],
                "true_incremental_conversions": float(true_uplift[mask].sum()),
                "true_incremental_revenue": r["incremental_revenue"],
                "true_discount_cost": r["discount_cost"],
                "true_contact_cost": r["contact_cost_total"],
                "true_incremental_margin": r["incremental_margin"],
                "discount_rate": d, "contact_cost": c, "margin_rate": margin_rate,
            })
    out = pd.DataFrame(rows, columns=TARGETING_COLUMNS)
    if out.empty:
        return _typed_table(out)
    prop = out[out["strategy"] == "propensity"].set_index(["promotion_id", "k_fraction"])["true_incremental_margin"]
    key = pd.MultiIndex.from_frame(out[["promotion_id", "k_fraction"]])
    out["margin_vs_propensity"] = out["true_incremental_margin"].to_numpy() - prop.reindex(key).to_numpy()
    if model_roi is not None and len(model_roi):
        expected = model_roi[["promotion_id", "strategy", "k_fraction", "expected_incremental_conversions",
                              "expected_incremental_margin"]]
        out = out.drop(columns=["expected_incremental_conversions", "expected_incremental_margin"])
        out = out.merge(expected, on=["promotion_id", "strategy", "k_fraction"], how="left", validate="1:1")
    return _typed_table(out[TARGETING_COLUMNS])
