"""The declared fallback policy: the logging policy's arm shares, overall and per segment.

When the off-policy gate keeps the champion (the logging policy, which has no policy JSON: the
system that logs the decisions serves it), the decision API still has to answer. It serves the
*fallback* the build publishes beside the candidates (``ml_bandit_published_policy`` row
``policy_id = "fallback"``, ``is_fallback`` true, never active): :class:`LoggedArmShares`, fitted on
the ledger's logged decisions (:func:`fit_fallback`), so the API keeps doing what the logging
policy did, as far as the log shows it.

* Per segment (the :class:`~retail_lift.bandit.context.ContextEncoder` segment ids: age band x
  follows the page x heard of the shop, each with its "unseen or missing" level) that has at least
  ``min_decisions`` logged decisions (default :data:`FALLBACK_MIN_DECISIONS`), the share of those
  decisions that went to each arm.
* Every other segment (too few decisions, or a context the log never saw) gets the overall shares.

Every logged decision counts, pending ones included: the shares need no reward. The serving floor
(:func:`~retail_lift.bandit.serve.apply_floor`) keeps an arm with a share of 0 loggable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..validation import check_positive_int
from .base import BasePolicy
from .thompson import check_segment_ids

if TYPE_CHECKING:  # pandas stays off the serving path (``import retail_lift.bandit.serve`` is numpy only)
    import pandas as pd

    from .context import ContextEncoder

__all__ = ["FALLBACK_ID", "FALLBACK_MIN_DECISIONS", "FittedFallback", "LoggedArmShares", "fit_fallback"]

#: ``policy_id`` of the fallback row of ``ml_bandit_published_policy``
FALLBACK_ID = "fallback"
#: a segment needs this many logged decisions for its own shares (else: the overall shares)
FALLBACK_MIN_DECISIONS = 100


class LoggedArmShares(BasePolicy):
    """Arm shares of logged decisions, per segment where a segment has enough of them.

    Contexts are integer segment ids in ``[0, n_segments)`` (as for
    :class:`~retail_lift.bandit.SegmentBernoulliTS`). ``fit(segments, actions, rewards)`` counts the
    decisions per segment and arm (``sample_weight`` weighs them; rewards are checked but not used:
    the shares describe what was chosen, not how it went). ``action_probabilities`` of a segment
    with at least ``min_decisions`` decisions are its shares; of any other segment, the overall
    shares (uniform before any decision). ``add_arm`` gives a new arm a share of 0 everywhere.

    Parameters
    ----------
    n_segments : int
        Number of segment ids (``ContextEncoder.n_segments_``).
    min_decisions : int >= 1
        Decisions a segment needs for its own shares (default :data:`FALLBACK_MIN_DECISIONS`).
    """

    uses_segments = True
    _state_attrs = ("counts_",)

    def __init__(self, n_arms, n_segments, arm_names=None, min_decisions=FALLBACK_MIN_DECISIONS, epsilon=0.0,
                 random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.n_segments = n_segments
        self.min_decisions = min_decisions

    def _validate_extra_params(self):
        self.n_segments = check_positive_int(self.n_segments, "n_segments")
        self.min_decisions = check_positive_int(self.min_decisions, "min_decisions")

    def _check_contexts(self, contexts, n=None):
        return check_segment_ids(contexts, self.n_segments)

    def _init_state(self, n_features):
        self.counts_ = np.zeros((self.n_segments, self.n_arms))

    def _add_arm_state(self, prior):
        self.counts_ = np.hstack([self.counts_, np.zeros((self.n_segments, 1))])

    def _update(self, X, actions, rewards, sample_weight=None):
        cell = X[:, 0] * self.n_arms + actions
        self.counts_ += np.bincount(cell, weights=sample_weight, minlength=self.counts_.size).reshape(
            self.counts_.shape)

    @property
    def overall_shares_(self) -> np.ndarray:
        """``(n_arms,)`` share of all logged decisions per arm (uniform before any decision)."""
        total = self.counts_.sum(axis=0)
        n = total.sum()
        return total / n if n > 0 else np.full(self.n_arms, 1.0 / self.n_arms)

    @property
    def segment_decisions_(self) -> np.ndarray:
        """``(n_segments,)`` logged decisions (weights) per segment."""
        return self.counts_.sum(axis=1)

    @property
    def own_share_segments_(self) -> np.ndarray:
        """The segments served with their own shares (at least ``min_decisions`` decisions)."""
        return np.flatnonzero(self.segment_decisions_ >= self.min_decisions)

    def _table(self) -> np.ndarray:
        """``(n_segments, n_arms)`` probabilities of every segment, built once per state."""
        def build():
            n = self.segment_decisions_
            own = (n >= self.min_decisions) & (n > 0)
            out = np.tile(self.overall_shares_, (self.n_segments, 1))
            out[own] = self.counts_[own] / n[own, None]
            return out
        return self._cached("table", build)

    def _probabilities(self, X):
        return self._table()[X[:, 0]]


@dataclass
class FittedFallback:
    """The fallback fitted on a ledger, with the encoder of its segment ids."""

    policy: LoggedArmShares
    encoder: ContextEncoder
    n_decisions: int
    last_decided_at: pd.Timestamp


def fit_fallback(ledger: pd.DataFrame, arm_names: Sequence[str], *, min_decisions: int = FALLBACK_MIN_DECISIONS,
                 random_state: int = 0) -> FittedFallback:
    """Fit :class:`LoggedArmShares` on every logged decision of ``ledger`` (pending ones included),
    with a :class:`ContextEncoder` fitted on the same contexts.

    ``ledger`` has the ``fct_decision_ledger`` columns; a ``promotion_id`` outside ``arm_names``
    raises ``ValueError`` (as :func:`~retail_lift.bandit.pipeline.ledger_arrays` checks), as does an
    empty ledger. The rows are read in decision order (``decided_at``, ``decision_id``), so the
    result does not depend on the order they come in.
    """
    import pandas as pd

    from .context import ContextEncoder
    from .pipeline import ledger_arrays

    if len(ledger) == 0:
        raise ValueError("cannot fit the fallback on an empty ledger: it has no logged decisions")
    # in decision order, whatever the warehouse's row order: the encoder's means and the shares are float
    # sums, and two builds of the same data must publish the same fallback, bit for bit
    keys = ["decided_at", "decision_id"] if "decision_id" in ledger.columns else ["decided_at"]
    ledger = ledger.assign(decided_at=pd.to_datetime(ledger["decided_at"]))
    ledger = ledger.sort_values(keys, kind="stable").reset_index(drop=True)
    arrays = ledger_arrays(ledger, arm_names, settled=False)
    encoder = ContextEncoder().fit(arrays.contexts)
    policy = LoggedArmShares(len(arm_names), encoder.n_segments_, arm_names=list(arm_names),
                             min_decisions=min_decisions, random_state=random_state)
    policy.fit(encoder.segment_ids(arrays.contexts), arrays.actions, np.zeros(len(arrays.actions)))
    return FittedFallback(policy, encoder, len(arrays.actions), ledger["decided_at"].max())
