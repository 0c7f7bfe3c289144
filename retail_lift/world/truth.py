"""The simulated world's public truth interface: its latent customers and their true response, in memory.

The generator (:mod:`retail_lift.world.generate`) writes the raw tables and the truth tables to disk;
:class:`SimulationWorld` rebuilds the same latent customers in memory (the same preset and seed give the
same customers as the files) and answers what a policy may see (:meth:`SimulationWorld.contexts`, as the
decision log records them) and what only an evaluation may see (:meth:`SimulationWorld.true_p`, the true
probability of an order within the attribution window for every arm). It runs the generator's own steps
in the generator's order, so it follows changes to the world; :meth:`SimulationWorld.generated_decisions`
rebuilds the world's decision log with its exact (untruncated) decision times.

This module is the only door to the generator's private ``_World``: code outside ``retail_lift.world``
uses the names below (and the constants re-exported here), never an underscore name of the generator.
Only :mod:`retail_lift.evaluation` (and the command line that generates worlds) may import the world at
all; ``make lint`` enforces it (import-linter, ``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from retail_lift.world.generate import (
    AGE_BANDS,
    ARM_DISCOUNT,
    ARM_IDS,
    ATTRIBUTION_DAYS,
    CHANNELS,
    DAY,
    DEVICES,
    HOUR,
    LOGGING_EPSILON,
    LOGGING_POLICY_ID,
    PERIOD_START,
    _context_json,
    _World,
)
from retail_lift.world.presets import Preset, get_preset

__all__ = [
    "AGE_BANDS",
    "ARM_DISCOUNT",
    "ARM_IDS",
    "ATTRIBUTION_DAYS",
    "CHANNELS",
    "DAY",
    "DECISION_LOG_STEPS",
    "DEVICES",
    "HOUR",
    "LOGGING_EPSILON",
    "LOGGING_POLICY_ID",
    "MIN_HISTORY_DAYS",
    "PERIOD_START",
    "SimulationWorld",
    "WORLD_STEPS",
]

#: days of history a context needs (orders in 90 days, views in 30 days): the simulation starts
#: at least this long after the world's first day
MIN_HISTORY_DAYS = 30


#: the steps of ``generate_world``, in its order, that build the latent customers and their
#: organic history (everything :meth:`SimulationWorld.contexts` and :meth:`SimulationWorld.true_p`
#: read); the world's random stream passes through them in this order
WORLD_STEPS = ("catalogue", "people", "sessions", "store_orders")
#: the steps of ``generate_world`` that follow them, up to and including the decision log: the
#: experiments draw from the same random stream before the decisions do
DECISION_LOG_STEPS = ("experiments", "decisions")


class SimulationWorld:
    """The latent customers of a generated world, rebuilt in memory, with their true response.

    ``SimulationWorld("tiny", seed=42)`` runs the generator's :data:`WORLD_STEPS` (catalogue,
    people, web sessions, store orders: the same customers as ``retail-lift generate --preset tiny
    --seed 42``; about a second for ``default``). :meth:`generated_decisions` runs the following
    :data:`DECISION_LOG_STEPS` on demand and returns the world's own decision log with its exact
    decision times. Only evaluation code may call :meth:`true_p`.
    """

    arm_names: tuple[str, ...] = tuple(ARM_IDS)

    def __init__(self, preset: str | Preset = "tiny", seed: int = 42):
        self.preset = get_preset(preset) if isinstance(preset, str) else preset
        self.seed = int(seed)
        w = _World(self.preset, self.seed)
        for step in WORLD_STEPS:
            getattr(w, step)()
        self._w = w
        # where the generator's random stream stands after these steps (the decision-log steps
        # continue from here, whatever happens to the world object in between)
        self._rng_state = w.rng.bit_generator.state
        self._decisions: pd.DataFrame | None = None
        self.end_s = float(w.end_s)
        self.n_customers = int(w.nc)
        self.arm_launch = np.asarray(w.arm_launch, dtype=float)

    def __repr__(self) -> str:
        return f"SimulationWorld(preset={self.preset.name!r}, seed={self.seed})"

    def is_active(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        v = self._w.v
        return (v["active_from"][cust] <= t) & (v["active_until"][cust] > t)

    def active_customers(self, t: float) -> np.ndarray:
        cust = np.arange(self.n_customers)
        return cust[self.is_active(cust, np.full(self.n_customers, float(t)))]

    def customer_ids(self, cust: np.ndarray) -> np.ndarray:
        return self._w.customer_ids[cust]

    def _raw_context(self, cust, t) -> dict:
        return self._w._context(np.asarray(cust), np.asarray(t, dtype=float))

    def contexts(self, cust, t) -> pd.DataFrame:
        """What a policy sees, in the format of :func:`~retail_lift.bandit.context.parse_contexts`."""
        c = self._raw_context(cust, t)
        return pd.DataFrame({
            "age_band": AGE_BANDS[c["age_band"]].astype(object),
            "device": DEVICES[c["device"]].astype(object),
            "acquisition_channel": CHANNELS[c["channel"]].astype(object),
            "follows_page": c["follows_page"].astype(float),
            "heard_of_shop": c["heard_of_shop"].astype(float),
            "orders_90d": c["orders_90d"].astype(float),
            "views_30d": c["views_30d"].astype(float),
            "days_since_last_order": np.round(c["days_since_last_order"].astype(float), 3),
            "hour": c["hour"].astype(float),
        })

    def context_json(self, cust, t) -> np.ndarray:
        """The contexts as the world's decision log writes them (JSON text)."""
        return _context_json(self._raw_context(cust, t))

    def true_p(self, cust, t) -> np.ndarray:
        """``(n, n_arms)`` true probability of an order within the attribution window, arms in
        :attr:`arm_names` order (ground truth: evaluation only)."""
        p, _, _ = self._w._true_response(np.asarray(cust), np.asarray(t, dtype=float))
        return p

    def mean_order_value(self, cust) -> np.ndarray:
        return self._w._mean_order_value(np.asarray(cust))

    def generated_decisions(self) -> pd.DataFrame:
        """The decision log ``generate_world`` writes for this preset and seed, with the exact
        decision times: ``decision_id``, ``customer`` (index), ``t`` (seconds since the start, not
        truncated: the file's ``decided_at`` is ``t`` truncated to whole seconds, while the logged
        context and the truth were computed at ``t``), ``promotion_id``, ``propensity``,
        ``action_probabilities`` and ``context`` (JSON, as logged).

        Runs the generator's :data:`DECISION_LOG_STEPS` on a copy of the rebuilt world, from the
        random-stream position :data:`WORLD_STEPS` left (computed once, then cached)."""
        if self._decisions is None:
            w = copy.copy(self._w)  # the steps add tables and exposures; the latent state is only read
            w.tables, w.truth = dict(self._w.tables), dict(self._w.truth)
            w.rng = np.random.default_rng()
            w.rng.bit_generator.state = self._rng_state
            for step in DECISION_LOG_STEPS:
                getattr(w, step)()
            kind, ids, cust, t, _ = w.exposures[-1]
            if kind != "decision":
                raise RuntimeError(f"the generator's last exposure step is {kind!r}, not the decision log")
            d = w.tables["decisions"]
            if not np.array_equal(d["decision_id"], ids):
                raise RuntimeError("the generator's decision exposures do not match its decision log")
            self._decisions = pd.DataFrame({
                "decision_id": d["decision_id"].astype(object),
                "customer": np.asarray(cust, dtype=np.int64),
                "t": np.asarray(t, dtype=float),
                "promotion_id": d["promotion_id"].astype(object),
                "propensity": d["propensity"],
                "action_probabilities": d["action_probabilities"].astype(object),
                "context": d["context"].astype(object),
            })
        return self._decisions.copy()

    def draw_decisions(self, rng: np.random.Generator, start_s: float, days: int, per_day: int):
        """``per_day`` decisions a day for ``days`` days from ``start_s``: active registered customers
        (drawn without replacement within a day when there are enough), times 08:00-22:00.
        Returns ``(cust, t, day)`` sorted by time; customers inactive at their time are dropped."""
        custs, ts, ds = [], [], []
        for d in range(days):
            day_s = start_s + d * DAY
            pool = self.active_customers(day_s)
            if pool.size == 0:
                continue
            c = rng.choice(pool, per_day, replace=pool.size < per_day)
            t = day_s + rng.integers(8, 22, per_day) * HOUR + rng.uniform(0, HOUR, per_day)
            keep = self.is_active(c, t)
            order = np.argsort(t[keep], kind="stable")
            custs.append(c[keep][order])
            ts.append(t[keep][order])
            ds.append(np.full(int(keep.sum()), d))
        return np.concatenate(custs), np.concatenate(ts), np.concatenate(ds)

    def check_period(self, days: int, history_days: int = 0) -> float:
        """Start (seconds) of a ``days``-day simulation ending at the world's last day, preceded by
        ``history_days`` days of logged history (the warm-start ledger)."""
        start = self.end_s - days * DAY
        if start - history_days * DAY < MIN_HISTORY_DAYS * DAY:
            raise ValueError(f"days={days} (+ warm_start_days={history_days}) is too long for preset "
                             f"{self.preset.name!r} ({self.preset.days} days): contexts need {MIN_HISTORY_DAYS} days "
                             f"of history, so at most {self.preset.days - MIN_HISTORY_DAYS} simulated and "
                             f"warm-start days together")
        return start
