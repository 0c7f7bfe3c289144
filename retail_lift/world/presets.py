"""Sizes of the simulated world.

``tiny`` is for tests (generate plus build in about a minute), ``default`` is what ``make build``
uses, ``large`` is the benchmark scale (about 1M customers, about 20M events).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    n_customers: int
    n_products: int
    n_stores: int
    days: int
    #: multiplies every visitor's session rate (tunes the number of events per customer)
    session_scale: float = 1.0
    #: visitors per customer (the rest never register)
    visitor_ratio: float = 1.6
    #: the decision log: days of logged policy decisions (ending two days before the end of data) ...
    decision_days: int = 40
    #: ... and days between two decisions of one customer (at least ``decision_days``: one decision each)
    decision_cadence_days: int = 40
    #: leave out the decisions whose attribution window would overlap the customer's experiment window
    decisions_skip_experiment_windows: bool = False


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", n_customers=1_000, n_products=300, n_stores=4, days=91),
    # a decision every 15 days over 90 days, paused around experiments: the off-policy gate needs that
    # many decisions, the experiments need their windows free of them
    "default": Preset("default", n_customers=50_000, n_products=3_000, n_stores=20, days=182,
                      decision_days=90, decision_cadence_days=15, decisions_skip_experiment_windows=True),
    "large": Preset("large", n_customers=1_000_000, n_products=30_000, n_stores=100, days=182,
                    session_scale=0.55),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
