r"""``python_models/ml/experiments/``: the experiment results and decisions (``ml_experiment_results``,
``ml_experiment_decisions``).

The experiments family (:mod:`retail_lift.experiments`) keeps the statistics: the tests of
:func:`~retail_lift.experiments.analysis.analyze_experiments` on the SQL sufficient statistics, the
pre-registered decision rule of :func:`~retail_lift.experiments.verdicts.decide_experiments`, the registry
and its overrides. Here is the wiring: the relations each model reads, its typed config, and the table
behind ``ml_experiment_decisions`` (:func:`experiment_decisions_table`, was ``experiments/decisions_table.py``).

:func:`experiment_decisions_table` reads what the warehouse has (the daily looks of
``fct_experiment_daily_looks``, the clean experiments of ``stg_shop__experiments`` with their optional
override columns, the rows of the seed ``experiment_registry``), builds one
:class:`~retail_lift.experiments.registry.ExperimentSpec` per experiment (declared in the registry,
else :func:`~retail_lift.experiments.registry.default_spec`; then the experiment row's overrides,
:data:`~retail_lift.experiments.registry.OVERRIDE_COLUMNS`) and calls
:func:`~retail_lift.experiments.verdicts.decide_experiments` experiment by experiment.

Bad declarations never stop the build and never ship: a registry entry or an override that does not
parse, an unknown metric, a variant missing from the assignments, a planned split that does not sum
to a positive number, an experiment whose assignments have no clean experiment row, all give that
experiment's rows the decision ``invalid: <reason>`` (the other experiments are decided as usual).

``as_of`` (var ``experiments_as_of``): the last look taken (``None``: the last look of the data; a
date after it counts as the last look). ``data_complete`` (var ``experiments_data_complete``): the
data is declared complete, so every window still open at the last look is closed there (the SQL has
already counted those exposures with the outcomes the data has): the experiment's windows close at its
last look and its decisions are final.
"""


from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from retail_lift.experiments.analysis import analyze_experiments
from retail_lift.experiments.registry import (
    OVERRIDE_COLUMNS,
    ExperimentSpec,
    apply_experiment_overrides,
    default_spec,
    registry_from_records,
)
from retail_lift.experiments.verdicts import VariantDecision, decide_experiments
from retail_lift.tables._config import check_store, read_relation

__all__ = ["DECISION_COLUMNS", "ExperimentDecisionsConfig", "ExperimentResultsConfig", "experiment_decisions_table",
           "ml_experiment_decisions", "ml_experiment_results"]

_FIELDS = [f.name for f in dataclasses.fields(VariantDecision)]
#: the columns of ml_experiment_decisions, in order
DECISION_COLUMNS = ["experiment_id", "variant", "decision", "decision_reason",
                    *[f for f in _FIELDS if f not in ("experiment_id", "variant", "decision", "reason")],
                    "registry_source"]


def _missing(v) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and v.strip() == "")


def _date(v) -> dt.date | None:
    return None if _missing(v) else pd.Timestamp(v).date()


def _clean(rec: Mapping) -> dict:
    return {k: (None if _missing(v) else v) for k, v in rec.items()}


def _treatments(split, control, observed) -> list[str]:
    """Treatment variants for invalid rows: the planned split's names (parsed loosely) and the observed ones."""
    names = set(observed)
    if isinstance(split, str):
        names |= {p.partition(":")[0].strip() for p in split.split(",") if p.partition(":")[0].strip()}
    return sorted(names - {control}) or ["(none)"]


def _registry_specs(registry_rows: pd.DataFrame | None) -> tuple[dict[str, ExperimentSpec], dict[str, str]]:
    """Parse the registry experiment by experiment: ({id: spec}, {id: problem})."""
    specs, problems = {}, {}
    if registry_rows is None or len(registry_rows) == 0:
        return specs, problems
    frame = registry_rows.copy()
    frame["experiment_id"] = frame["experiment_id"].astype(str).str.strip()
    for exp_id, g in frame.groupby("experiment_id", sort=True):
        try:
            specs.update(registry_from_records([_clean(r) for r in g.to_dict("records")]))
        except ValueError as exc:
            problems[exp_id] = f"bad registry entry: {exc}"
    return specs, problems


def _data_complete_adjust(exp: dict, spec: ExperimentSpec, last_look: dt.date) -> tuple[dict, bool]:
    """Close the experiment's windows at its last look (var experiments_data_complete): returns the
    experiment row with ended_at / attribution_days such that the windows close on ``last_look``."""
    started, ended = _date(exp.get("started_at")), _date(exp.get("ended_at"))
    attribution = int(exp.get("attribution_days") or 0)
    horizon = ended
    if started is not None:
        limit = started + dt.timedelta(days=spec.max_duration_days)
        horizon = limit if horizon is None else min(horizon, limit)
    if horizon is None:
        horizon = last_look
    if horizon + dt.timedelta(days=attribution) <= last_look:
        return exp, False  # every window closed by the last look already
    eff = min(horizon, last_look)
    out = dict(exp, attribution_days=(last_look - eff).days)
    if ended is None or ended > eff:
        out["ended_at"] = pd.Timestamp(eff)
    return out, True


def experiment_decisions_table(looks: pd.DataFrame, experiments: pd.DataFrame,  # noqa: C901, PLR0912 - one branch per documented decision status
                               registry_rows: pd.DataFrame | None = None, *, as_of,
                               data_complete: bool) -> pd.DataFrame:
    """One row per experiment × treatment variant (columns :data:`DECISION_COLUMNS`).

    ``looks``: ``fct_experiment_daily_looks`` (``experiment_id, variant, metric_name, look_date, users,
    open_window_users, sum_y, sumsq_y`` and the other sums of the interface, passed through).
    ``experiments``: ``stg_shop__experiments`` (``experiment_id, control_variant, planned_split,
    started_at, ended_at, attribution_days``, the optional :data:`OVERRIDE_COLUMNS` and
    ``override_problem``). ``registry_rows``: the seed ``experiment_registry`` (columns of
    :mod:`~retail_lift.experiments.registry`), or None for the documented defaults.
    """
    looks = looks.copy()
    looks["experiment_id"] = looks["experiment_id"].astype(str)
    looks["look_date"] = pd.to_datetime(looks["look_date"]).dt.date
    exps = experiments.copy()
    exps["experiment_id"] = exps["experiment_id"].astype(str).str.strip()
    as_of = _date(as_of)
    specs, problems = _registry_specs(registry_rows)

    rows: list[dict] = []

    def invalid(exp_id, reason, split, control, source):
        observed = looks.loc[looks["experiment_id"] == exp_id, "variant"].astype(str).unique()
        for v in _treatments(split, control, observed):
            rows.append({"experiment_id": exp_id, "variant": v, "decision": f"invalid: {reason}",
                         "decision_reason": reason, "is_final": True, "registry_source": source})

    for exp in exps.to_dict("records"):
        exp_id, control, split = exp["experiment_id"], exp.get("control_variant"), exp.get("planned_split")
        spec = specs.get(exp_id) or default_spec(exp_id)
        if exp_id in problems:
            invalid(exp_id, problems[exp_id], split, control, "registry")
            continue
        if not _missing(exp.get("override_problem")):
            col = str(exp["override_problem"]).removeprefix("unparseable_")
            invalid(exp_id, f"experiments table column {col!r} does not parse", split, control, spec.source)
            continue
        overrides = {c: exp.get(c) for c in OVERRIDE_COLUMNS if c in exp}
        try:
            spec = apply_experiment_overrides({exp_id: spec}, [{"experiment_id": exp_id, **_clean(overrides)}])[exp_id]
        except ValueError as exc:
            invalid(exp_id, f"bad override: {exc}", split, control, spec.source)
            continue
        mine = looks[looks["experiment_id"] == exp_id]
        if mine.empty:
            started = _date(exp.get("started_at"))
            if as_of is not None and started is not None and started > as_of:
                for v in _treatments(split, control, []):
                    rows.append({"experiment_id": exp_id, "variant": v, "decision": "keep running",
                                 "decision_reason": f"not started by {as_of} (starts {started})", "as_of": as_of,
                                 "primary_metric": spec.primary.metric_name, "analysis_mode": spec.analysis_mode,
                                 "registry_source": spec.source})
            else:
                invalid(exp_id, "no clean assignment in the data: every variant is missing from the assignments",
                        split, control, spec.source)
            continue
        last_look = max(mine["look_date"])
        exp_as_of = min(as_of, last_look) if as_of is not None and last_look is not None else as_of
        note = None
        if data_complete and last_look is not None:
            exp, adjusted = _data_complete_adjust(exp, spec, exp_as_of or last_look)
            if adjusted:
                note = f"data declared complete: windows closed at the end of the data ({exp_as_of or last_look})"
        try:
            frame = decide_experiments(mine, pd.DataFrame([exp]), {exp_id: spec}, as_of=exp_as_of)
        except ValueError as exc:
            invalid(exp_id, str(exc), split, control, spec.source)
            continue
        for r in frame.to_dict("records"):
            reason = r.pop("reason")
            if note:
                reason = f"{reason}; {note}"
            rows.append({**r, "decision_reason": reason, "registry_source": spec.source})

    # assignments whose experiment has no clean row (quarantined or missing): invalid, never silent
    for exp_id in sorted(set(looks["experiment_id"]) - set(exps["experiment_id"])):
        invalid(exp_id, "experiment not in the clean experiments table (quarantined or missing; see "
                "stg_shop__quarantined_rows)", None, "control", "none")

    out = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    out["is_final"] = out["is_final"].fillna(False).astype(bool)
    for c in ("control_users", "variant_users", "open_window_users"):
        out[c] = out[c].fillna(0).astype("int64")
    out["planned_users_per_arm"] = out["planned_users_per_arm"].astype("Int64")
    for c in ("p_value", "p_value_adjusted", "effect", "ci_low", "ci_high"):
        out[c] = out[c].astype(float)
    for c in ("as_of", "decided_at", "windows_close_at"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in ("experiment_id", "variant", "decision", "decision_reason", "primary_metric", "analysis_mode",
              "registry_source"):
        out[c] = out[c].astype("string")  # typed even when empty (a shop without experiments)
    return out.sort_values(["experiment_id", "variant"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# the models and their configs
# ----------------------------------------------------------------------------------------------


def _number(model: str, key: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
        raise ValueError(f"{model}: {key} must be a number between {low} and {high} (exclusive), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ExperimentResultsConfig:
    """The settings of ``ml_experiment_results`` and their defaults (its yml states the same)."""

    #: significance level of every test (two-sided) and of the Holm correction
    alpha: float = 0.05
    #: power of the planned sample size (planned_users_per_arm)
    power: float = 0.8
    #: the minimum detectable effect, relative to the control, of the planned size and the mSPRT mixture
    mde_relative: float = 0.2

    def __post_init__(self):
        for key in ("alpha", "power"):
            object.__setattr__(self, key, _number("ml_experiment_results", key, getattr(self, key), 0.0, 1.0))
        object.__setattr__(self, "mde_relative",
                           _number("ml_experiment_results", "mde_relative", self.mde_relative, 0.0, math.inf))


def ml_experiment_results(relations: Mapping[str, object],
                          config: ExperimentResultsConfig = ExperimentResultsConfig(), *,
                          store=None) -> pd.DataFrame:
    """Every test of :func:`~retail_lift.experiments.analysis.analyze_experiments` per experiment x treatment
    variant x metric. ``relations``: ``fct_experiment_variant_stats`` and ``fct_experiment_srm``."""
    check_store(store, "ml_experiment_results")
    return analyze_experiments(read_relation(relations["fct_experiment_variant_stats"]),
                               read_relation(relations["fct_experiment_srm"]),
                               alpha=config.alpha, power=config.power, mde_relative=config.mde_relative)


#: what dbt hands over for an unset var: ``{{ var('experiments_as_of', none) }}`` renders as text
_NONE_TEXT = ("", "none", "null")
#: the values of var experiments_data_complete that declare the data complete (as the SQL macro reads it)
_TRUE_TEXT = ("true", "1", "yes", "y")


@dataclass(frozen=True)
class ExperimentDecisionsConfig:
    """The settings of ``ml_experiment_decisions`` and their defaults (its yml states the same, through the
    dbt vars of the same names: ``{{ var('experiments_as_of', none) }}`` and so on)."""

    #: the last look taken (a date, YYYY-MM-DD); None: the last look of the data
    experiments_as_of: dt.date | None = None
    #: the data is declared complete: the windows still open at the last look close there
    experiments_data_complete: bool = False

    def __post_init__(self):
        as_of = self.experiments_as_of
        if isinstance(as_of, str) and as_of.strip().lower() in _NONE_TEXT:
            as_of = None
        try:
            as_of = _date(as_of)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"ml_experiment_decisions: experiments_as_of must be a date (YYYY-MM-DD) or none, "
                             f"got {self.experiments_as_of!r}") from exc
        object.__setattr__(self, "experiments_as_of", as_of)
        complete = self.experiments_data_complete
        if not isinstance(complete, bool):  # text or a number from the var, read as the SQL macro reads it
            complete = str(complete).strip().lower() in _TRUE_TEXT
        object.__setattr__(self, "experiments_data_complete", complete)


def ml_experiment_decisions(relations: Mapping[str, object],
                            config: ExperimentDecisionsConfig = ExperimentDecisionsConfig(), *,
                            store=None) -> pd.DataFrame:
    """One decision per experiment x treatment variant (:func:`experiment_decisions_table`).

    ``relations``: ``fct_experiment_daily_looks``, ``stg_shop__experiments`` and ``experiment_registry``."""
    check_store(store, "ml_experiment_decisions")
    return experiment_decisions_table(read_relation(relations["fct_experiment_daily_looks"]),
                                      read_relation(relations["stg_shop__experiments"]),
                                      read_relation(relations["experiment_registry"]),
                                      as_of=config.experiments_as_of, data_complete=config.experiments_data_complete)
