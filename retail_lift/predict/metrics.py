"""Metrics of a binary classifier's probabilities: ranking, calibration, top-k and thresholded.

Definitions (``y`` is the 0/1 outcome, ``p`` the predicted probability of 1, ``N`` rows, ``P``
positives):

- ``roc_auc``: area under the ROC curve (the probability that a random positive scores above a
  random negative, ties counting one half); ``NaN`` when ``y`` holds a single class.
- ``pr_auc``: average precision, ``sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds
  (scikit-learn's ``average_precision_score``, no interpolation); ``NaN`` without positives.
- ``log_loss``: ``-mean(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to
  ``[1e-15, 1 - 1e-15]`` so that a confident mistake costs about 34.5 instead of infinity.
- ``brier``: ``mean((p - y)^2)``.
- ``ece``: expected calibration error, see :func:`expected_calibration_error`.
- ``precision_at_k``, ``recall_at_k``, ``ndcg_at_k``: binary relevance in the top ``k`` rows by
  ``p`` (see :func:`rank_order` for the deterministic tie rule). ``NaN`` when ``k`` exceeds the
  number of rows (targeting 1,000 customers out of 300 is not a meaningful question), and recall /
  NDCG are ``NaN`` without positives.
- with a ``threshold`` (a row is predicted positive when ``p >= threshold``): ``f1``,
  ``accuracy``, ``precision`` (0 when nothing is predicted positive, scikit-learn's
  ``zero_division=0``) and ``recall``.

:func:`oracle_metrics` gives the same metrics for the ranking by the *true* probability, which the
simulated world knows; :func:`oracle_ratio` turns a model's AUC into a share of that ceiling.

Every invalid input raises ``ValueError`` naming the argument (via :mod:`retail_lift.validation`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from retail_lift.validation import (
    as_1d_float,
    check_binary,
    check_positive_int,
    check_probabilities,
    check_same_length,
)

__all__ = [
    "LOG_LOSS_EPS",
    "rank_order",
    "log_loss",
    "brier_score",
    "expected_calibration_error",
    "calibration_table",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "threshold_metrics",
    "best_f1_threshold",
    "classification_metrics",
    "oracle_metrics",
    "oracle_ratio",
]

LOG_LOSS_EPS = 1e-15


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------


def _check_y_p(y_true, y_prob, prob_name: str = "y_prob") -> tuple[np.ndarray, np.ndarray]:
    y = check_binary(y_true, "y_true")
    p = check_probabilities(y_prob, prob_name)
    check_same_length(y_true=y, **{prob_name: p})
    if y.size == 0:
        raise ValueError("y_true must not be empty")
    return y, p


def _check_k(k, name: str = "k") -> int:
    return check_positive_int(k, name)


def _check_ks(k) -> tuple[int, ...]:
    ks = (k,) if isinstance(k, (int, np.integer)) else tuple(k)
    return tuple(_check_k(v, "k") for v in ks)


# ----------------------------------------------------------------------------------------------
# ranking helpers
# ----------------------------------------------------------------------------------------------


def rank_order(score) -> np.ndarray:
    """Row positions from the highest score to the lowest; equal scores keep their input order.

    The tie rule (a stable sort on ``-score``) makes every top-k metric deterministic: among rows
    with the same score, the one that comes first in the input is ranked first.
    """
    s = as_1d_float(score, "score")
    return np.argsort(-s, kind="stable")


def _top_k_hits(y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray | None:
    if k > y.size:
        return None
    return y[rank_order(p)[:k]]


def precision_at_k(y_true, y_prob, k: int) -> float:
    """Share of positives among the ``k`` highest-scored rows; ``NaN`` when ``k > len(y_true)``."""
    y, p = _check_y_p(y_true, y_prob)
    hits = _top_k_hits(y, p, _check_k(k))
    return float("nan") if hits is None else float(hits.mean())


def recall_at_k(y_true, y_prob, k: int) -> float:
    """Share of all positives found among the ``k`` highest-scored rows.

    ``NaN`` when ``k > len(y_true)`` or when there are no positives.
    """
    y, p = _check_y_p(y_true, y_prob)
    hits = _top_k_hits(y, p, _check_k(k))
    if hits is None or y.sum() == 0:
        return float("nan")
    return float(hits.sum() / y.sum())


def ndcg_at_k(y_true, y_prob, k: int) -> float:
    """Normalised discounted cumulative gain of the top ``k`` with binary relevance.

    ``DCG@k = sum_{i=1..k} y_(i) / log2(i + 1)`` over the rows in :func:`rank_order`, divided by the
    ideal ``IDCG@k = sum_{i=1..min(k, P)} 1 / log2(i + 1)`` (all positives first). ``NaN`` when
    ``k > len(y_true)`` or when there are no positives.
    """
    y, p = _check_y_p(y_true, y_prob)
    k = _check_k(k)
    hits = _top_k_hits(y, p, k)
    n_pos = int(y.sum())
    if hits is None or n_pos == 0:
        return float("nan")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.sum(hits * discounts))
    idcg = float(np.sum(discounts[: min(k, n_pos)]))
    return dcg / idcg


# ----------------------------------------------------------------------------------------------
# probability metrics
# ----------------------------------------------------------------------------------------------


def log_loss(y_true, y_prob) -> float:
    """Mean negative log-likelihood, ``p`` clipped to ``[1e-15, 1 - 1e-15]`` (:data:`LOG_LOSS_EPS`)."""
    y, p = _check_y_p(y_true, y_prob)
    pc = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(pc) + (1 - y) * np.log1p(-pc)))


def brier_score(y_true, y_prob) -> float:
    """Mean squared difference between probability and outcome."""
    y, p = _check_y_p(y_true, y_prob)
    return float(np.mean((p - y) ** 2))


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum(np.floor(p * n_bins).astype(int), n_bins - 1)


def calibration_table(y_true, y_prob, n_bins: int = 10) -> pd.DataFrame:
    """The reliability table behind :func:`expected_calibration_error`.

    One row per equal-width bin (empty bins included, with ``n = 0`` and ``NaN`` means): ``bin``,
    ``lower``, ``upper``, ``n``, ``mean_predicted``, ``observed_rate``.
    """
    y, p = _check_y_p(y_true, y_prob)
    n_bins = check_positive_int(n_bins, "n_bins")
    idx = _bin_index(p, n_bins)
    n = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(n > 0, sum_p / n, np.nan)
        rate = np.where(n > 0, sum_y / n, np.nan)
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame({
        "bin": np.arange(n_bins),
        "lower": edges[:-1],
        "upper": edges[1:],
        "n": n,
        "mean_predicted": mean_p,
        "observed_rate": rate,
    })


def expected_calibration_error(y_true, y_prob, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    Bin ``b`` holds the rows with ``floor(p * n_bins) == b`` (so bin 0 is ``[0, 0.1)`` for ten
    bins, and ``p = 1`` falls in the last bin, ``[0.9, 1]``). With ``n_b`` rows in bin ``b``,
    ``mean(p)_b`` their mean probability and ``mean(y)_b`` their observed rate::

        ECE = sum_b (n_b / N) * |mean(y)_b - mean(p)_b|

    Empty bins contribute nothing. 0 is perfect calibration; the value is a mean absolute gap in
    probability units (0.02 = predictions off by two points on average). On small samples it is
    biased upwards by the sampling noise of ``mean(y)_b``.
    """
    t = calibration_table(y_true, y_prob, n_bins)
    filled = t[t["n"] > 0]
    gap = np.abs(filled["observed_rate"] - filled["mean_predicted"])
    return float(np.sum(filled["n"] * gap) / filled["n"].sum())


# ----------------------------------------------------------------------------------------------
# thresholded metrics
# ----------------------------------------------------------------------------------------------


def threshold_metrics(y_true, y_prob, threshold: float) -> dict[str, float]:
    """``f1``, ``accuracy``, ``precision`` and ``recall`` when rows with ``p >= threshold`` are positive.

    ``precision`` is 0 when nothing is predicted positive and ``recall`` is ``NaN`` without positives
    (``f1`` is then 0 if anything was predicted positive, ``NaN`` if not).
    """
    y, p = _check_y_p(y_true, y_prob)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    denom_f1 = 2 * tp + fp + fn
    return {
        "threshold": threshold,
        "f1": 2 * tp / denom_f1 if denom_f1 else float("nan"),
        "accuracy": (tp + tn) / y.size,
        "precision": tp / (tp + fp) if (tp + fp) else 0.0,
        "recall": tp / (tp + fn) if (tp + fn) else float("nan"),
    }


def best_f1_threshold(y_true, y_prob) -> tuple[float, float]:
    """The threshold that maximises F1, and that F1.

    Candidates are the distinct values of ``y_prob``; a row is predicted positive when
    ``p >= threshold``. With ``tp(t)`` positives among the ``n(t)`` rows at or above ``t`` and ``P``
    positives in all, ``F1(t) = 2 tp(t) / (n(t) + P)``. Among equal F1 values the highest threshold
    (the smallest targeted group) wins. Choose it on out-of-fold predictions, not on the rows you
    report on. Raises ``ValueError`` when ``y_true`` has no positive.

    Returns:
        ``(threshold, f1)``
    """
    y, p = _check_y_p(y_true, y_prob)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise ValueError("y_true must contain at least one positive (1) to choose an F1 threshold")
    order = rank_order(p)
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    n_sel = np.arange(1, ps.size + 1)
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]  # a threshold selects whole ties
    f1 = 2.0 * tp[last_of_tie] / (n_sel[last_of_tie] + n_pos)
    best = int(np.argmax(f1))  # first maximum = highest threshold
    return float(ps[last_of_tie][best]), float(f1[best])


# ----------------------------------------------------------------------------------------------
# all together
# ----------------------------------------------------------------------------------------------


def classification_metrics(y_true, y_prob, *, k: int | Iterable[int] = (100, 1000),
                           threshold: float | None = None, n_bins: int = 10) -> dict[str, float]:
    """Every metric of the module for one set of predictions, as a flat ``{name: value}`` dict.

    Keys: ``n``, ``positives``, ``prevalence``, ``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``,
    ``ece`` (``n_bins`` equal-width bins), then ``precision_at_{k}``, ``recall_at_{k}``,
    ``ndcg_at_{k}`` for every ``k``, and, when ``threshold`` is given, ``threshold``, ``f1``,
    ``accuracy``, ``precision``, ``recall``. See the module docstring for the definitions.
    """
    y, p = _check_y_p(y_true, y_prob)
    ks = _check_ks(k)
    both = 0 < y.sum() < y.size
    out: dict[str, float] = {
        "n": float(y.size),
        "positives": float(y.sum()),
        "prevalence": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if y.sum() > 0 else float("nan"),
        "log_loss": log_loss(y, p),
        "brier": brier_score(y, p),
        "ece": expected_calibration_error(y, p, n_bins),
    }
    for kk in ks:
        out[f"precision_at_{kk}"] = precision_at_k(y, p, kk)
        out[f"recall_at_{kk}"] = recall_at_k(y, p, kk)
        out[f"ndcg_at_{kk}"] = ndcg_at_k(y, p, kk)
    if threshold is not None:
        out.update(threshold_metrics(y, p, threshold))
    return out


def oracle_metrics(y_true, true_prob, *, k: int | Iterable[int] = (100, 1000),
                   n_bins: int = 10) -> dict[str, float]:
    """:func:`classification_metrics` of the true probabilities (the simulated world's ground truth).

    No model can rank better in expectation than the true probability, so its ``roc_auc`` is the
    ceiling a model's AUC is compared with (:func:`oracle_ratio`); its ``log_loss`` / ``brier`` /
    ``ece`` are the irreducible noise of the outcome on these rows. Compute it on the same rows as
    the model's metrics.
    """
    y, p = _check_y_p(y_true, true_prob, prob_name="true_prob")
    return classification_metrics(y, p, k=k, n_bins=n_bins)


def oracle_ratio(model_auc: float, oracle_auc: float, *, chance: float = 0.0) -> float:
    """``(model_auc - chance) / (oracle_auc - chance)``: the share of the attainable AUC reached.

    With the default ``chance=0`` it is the plain ratio ``model AUC / oracle AUC``; ``chance=0.5``
    measures the share of the *lift over random ranking* (the Gini ratio), a stricter number when both
    AUCs are modest. Raises ``ValueError`` for a non-finite AUC or ``oracle_auc <= chance``.
    """
    m, o, c = float(model_auc), float(oracle_auc), float(chance)
    for name, v in (("model_auc", m), ("oracle_auc", o), ("chance", c)):
        if not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if o <= c:
        raise ValueError(f"oracle_auc must exceed chance ({c}), got {o}")
    return (m - c) / (o - c)
