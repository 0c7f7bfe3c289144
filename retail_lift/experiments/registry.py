r"""The experiment registry: what each experiment promises to measure, declared before the data.

One *entry* (row) per experiment × metric, grouped into one frozen :class:`ExperimentSpec` per
experiment. A registry comes from a YAML file (:func:`load_registry_yaml`), a seed-like CSV
(:func:`load_registry_csv`) or plain records (:func:`registry_from_records`); optional columns of the
raw ``experiments`` table override it (:func:`apply_experiment_overrides`); an experiment declared
nowhere gets the documented defaults (:func:`default_spec`, :func:`registry_for`).

Row fields (CSV columns / YAML keys)
------------------------------------
Per metric (every row):

``experiment_id`` (required), ``metric_name`` (required), ``role`` (``primary`` or ``guardrail``;
exactly one primary per experiment), ``metric_type`` (``proportion``, ``mean`` or ``ratio``; default
from :data:`KNOWN_METRICS`, i.e. the metric definitions file seeds/experiment_metrics.csv),
``higher_is_better`` (default true), ``non_inferiority_margin`` (guardrails
only, required for them: the largest *relative* loss accepted, e.g. ``0.05`` = the guardrail may not
fall more than 5 % of the control mean).

Per experiment (on any of its rows; repeated values must agree):

================================  ==========================================================  ==========
field                             meaning                                                     default
================================  ==========================================================  ==========
``mde_relative``                  minimum detectable effect, relative to the baseline         0.10
``alpha``                         two-sided level of the primary test                         0.05
``power``                         planned power at the MDE                                    0.80
``planned_users_per_arm``         stated planned size (wins over the computed one)            computed
``baseline``                      pre-registered baseline of the primary metric (rate or      none
                                  mean, from a pre-period)
``baseline_sd``                   its per-user standard deviation (``mean`` metrics; for      none
                                  ``ratio`` the s.d. of the linearised metric, see verdicts)
``analysis_mode``                 ``sequential`` (mSPRT at every daily look) or ``fixed``     sequential
``max_duration_days``             longest assignment period; after it (and its windows)       28
                                  the decision is final
================================  ==========================================================  ==========

Planned size (:meth:`ExperimentSpec.planned_users_per_arm`): the stated value, else computed from
``baseline`` and ``mde_relative``: :func:`~retail_lift.experiments.sample_size_proportions` /
:func:`~retail_lift.experiments.sample_size_means` in fixed mode, :func:`msprt_sample_size` (the
sequential test's own size) in sequential mode. Without a pre-registered baseline the decision code
falls back to the control arm's mean at the first look (documented there); declare one to avoid it.

Defaults for a user's data without any registry (:func:`default_spec`): primary
``conversion_rate``, guardrail ``revenue_per_user`` with a 5 % non-inferiority margin, and the
per-experiment defaults above (:data:`DEFAULTS`).

Every error is a ``ValueError`` naming the experiment, the field and (for files) the row.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from scipy import stats

from .metrics import METRIC_TYPES, load_metric_definitions
from .power import sample_size_means, sample_size_proportions

__all__ = [
    "DEFAULTS", "DEFAULT_GUARDRAILS", "DEFAULT_PRIMARY", "KNOWN_METRICS", "MODES", "ExperimentSpec",
    "MetricSpec", "apply_experiment_overrides", "default_spec", "load_registry_csv", "load_registry_yaml",
    "msprt_sample_size", "registry_for", "registry_from_records",
]

#: metrics the warehouse computes (fct_experiment_variant_stats) and their type: ``{metric_name: metric_type}``,
#: from the one definitions file seeds/experiment_metrics.csv (:func:`load_metric_definitions`)
KNOWN_METRICS: dict[str, str] = {n: d.metric_type for n, d in load_metric_definitions().items()}
MODES = ("sequential", "fixed")
ROLES = ("primary", "guardrail")

#: documented per-experiment defaults
DEFAULTS: dict[str, object] = {"mde_relative": 0.10, "alpha": 0.05, "power": 0.80, "analysis_mode": "sequential",
                               "max_duration_days": 28, "planned_users_per_arm": None, "baseline": None,
                               "baseline_sd": None}
DEFAULT_PRIMARY = "conversion_rate"
#: (metric_name, non_inferiority_margin) of the default guardrails
DEFAULT_GUARDRAILS: tuple[tuple[str, float], ...] = (("revenue_per_user", 0.05),)

_EXPERIMENT_FIELDS = tuple(DEFAULTS)
_METRIC_FIELDS = ("metric_name", "role", "metric_type", "higher_is_better", "non_inferiority_margin")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One registry entry's metric: its role, type, direction and (guardrails) margin."""

    metric_name: str
    role: str = "primary"
    metric_type: str = "proportion"
    higher_is_better: bool = True
    non_inferiority_margin: float | None = None


@dataclasses.dataclass(frozen=True)
class ExperimentSpec:
    """The pre-registered design of one experiment (see the module docstring for every field)."""

    experiment_id: str
    primary: MetricSpec
    guardrails: tuple[MetricSpec, ...] = ()
    mde_relative: float = 0.10
    alpha: float = 0.05
    power: float = 0.80
    analysis_mode: str = "sequential"
    max_duration_days: int = 28
    planned_users_per_arm_stated: int | None = None
    baseline: float | None = None
    baseline_sd: float | None = None
    source: str = "registry"

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        return (self.primary, *self.guardrails)

    @property
    def sequential(self) -> bool:
        return self.analysis_mode == "sequential"

    def tau(self, baseline: float | None = None) -> float | None:
        """mSPRT mixing scale: the absolute MDE ``mde_relative * |baseline|`` (None without a baseline)."""
        b = self.baseline if baseline is None else baseline
        return None if b is None or b == 0 else abs(self.mde_relative * b)

    def planned_users_per_arm(self, baseline: float | None = None, baseline_sd: float | None = None) -> int | None:
        """Stated planned size, else computed from the (pre-registered, else given) baseline; None if neither."""
        if self.planned_users_per_arm_stated is not None:
            return self.planned_users_per_arm_stated
        b = self.baseline if self.baseline is not None else baseline
        sd = self.baseline_sd if self.baseline_sd is not None else baseline_sd
        if b is None or b <= 0:
            return None
        if self.primary.metric_type == "proportion":
            if not 0 < b < 1 or not 0 < b * (1 + self.mde_relative) < 1:
                return None
            sd = math.sqrt(b * (1 - b))
            if not self.sequential:
                return sample_size_proportions(b, self.mde_relative, alpha=self.alpha, power=self.power)
        elif sd is None or sd <= 0:
            return None
        elif not self.sequential:
            return sample_size_means(sd, self.mde_relative * b, alpha=self.alpha, power=self.power)
        return msprt_sample_size(self.mde_relative * b, sd, alpha=self.alpha, power=self.power)


def msprt_sample_size(delta: float, sd: float, *, alpha: float = 0.05, power: float = 0.8,
                      tau: float | None = None) -> int:
    r"""Users per arm at which the normal-mixture mSPRT (:func:`msprt_from_estimates`) rejects at the
    last look with probability ``power`` when the true difference is ``delta``.

    With :math:`V = 2\sigma^2/n` the test rejects when :math:`|\hat\theta| / \sqrt V \ge c_n`,
    :math:`c_n^2 = \frac{V+\tau^2}{\tau^2}[2\log(1/\alpha) + \log\frac{V+\tau^2}{V}]`; power at
    :math:`n` is about :math:`\Phi(|\delta|/\sqrt V - c_n)` (earlier looks only add to it, so this
    size is conservative). ``tau`` defaults to ``|delta|``. Found by bisection.
    """
    delta, sd = abs(float(delta)), float(sd)
    if not delta > 0 or not sd > 0:
        raise ValueError(f"msprt_sample_size needs a positive delta and sd, got {delta!r}, {sd!r}")
    tau2 = (delta if tau is None else float(tau)) ** 2
    zp = stats.norm.ppf(power)

    def ok(n: int) -> bool:
        v = 2 * sd * sd / n
        c = math.sqrt((v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
        return delta / math.sqrt(v) - c >= zp

    lo, hi = 1, 2
    while not ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# ------------------------------------------------------------------------------- parsing helpers
def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() == "")


def _where(exp_id, field, where):
    return f"experiment {exp_id!r}, field {field!r}" + (f" ({where})" if where else "")


def _num(v, exp_id, field, where, lo=None, hi=None, integer=False):
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{_where(exp_id, field, where)}: expected a number, got {v!r}") from None
    if not math.isfinite(x) or (lo is not None and not x > lo) or (hi is not None and not x < hi):
        rng = f"in ({lo}, {hi})" if hi is not None else f"above {lo}"
        raise ValueError(f"{_where(exp_id, field, where)}: must be {rng}, got {v!r}")
    if integer:
        if x != int(x):
            raise ValueError(f"{_where(exp_id, field, where)}: must be a whole number, got {v!r}")
        return int(x)
    return x


def _bool(v, exp_id, field, where) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "y", "t"):
        return True
    if s in ("false", "0", "no", "n", "f"):
        return False
    raise ValueError(f"{_where(exp_id, field, where)}: expected true or false, got {v!r}")


def _experiment_value(field, v, exp_id, where):
    if field == "mde_relative":
        x = _num(v, exp_id, field, where, lo=-1.0)
        if x == 0:
            raise ValueError(f"{_where(exp_id, field, where)}: must be non-zero")
        return x
    if field in ("alpha", "power"):
        return _num(v, exp_id, field, where, lo=0.0, hi=1.0)
    if field in ("max_duration_days", "planned_users_per_arm"):
        return _num(v, exp_id, field, where, lo=0.0, integer=True)
    if field in ("baseline", "baseline_sd"):
        return _num(v, exp_id, field, where, lo=0.0)
    if field == "analysis_mode":
        s = str(v).strip().lower().replace("fixed_horizon", "fixed").replace("fixed-horizon", "fixed")
        if s not in MODES:
            raise ValueError(f"{_where(exp_id, field, where)}: must be one of {', '.join(MODES)}, got {v!r}")
        return s
    raise AssertionError(field)


def _metric(rec: Mapping, exp_id, where) -> MetricSpec:
    name = rec.get("metric_name")
    if _missing(name):
        raise ValueError(f"{_where(exp_id, 'metric_name', where)}: missing")
    name = str(name).strip()
    role = "primary" if _missing(rec.get("role")) else str(rec["role"]).strip().lower()
    if role not in ROLES:
        raise ValueError(f"{_where(exp_id, 'role', where)}: must be primary or guardrail, got {rec['role']!r}")
    mtype = rec.get("metric_type")
    if _missing(mtype):
        if name not in KNOWN_METRICS:
            raise ValueError(f"{_where(exp_id, 'metric_type', where)}: metric {name!r} is not one of "
                             f"{', '.join(KNOWN_METRICS)}; declare its metric_type ({', '.join(METRIC_TYPES)})")
        mtype = KNOWN_METRICS[name]
    mtype = str(mtype).strip().lower()
    if mtype not in METRIC_TYPES:
        raise ValueError(f"{_where(exp_id, 'metric_type', where)}: must be one of {', '.join(METRIC_TYPES)}, "
                         f"got {mtype!r}")
    hib = True if _missing(rec.get("higher_is_better")) else _bool(rec["higher_is_better"], exp_id,
                                                                  "higher_is_better", where)
    margin = rec.get("non_inferiority_margin")
    if role == "guardrail":
        if _missing(margin):
            raise ValueError(f"{_where(exp_id, 'non_inferiority_margin', where)}: required for guardrail "
                             f"{name!r} (the largest relative loss accepted, e.g. 0.05)")
        margin = _num(margin, exp_id, "non_inferiority_margin", where, lo=0.0)
    elif not _missing(margin):
        raise ValueError(f"{_where(exp_id, 'non_inferiority_margin', where)}: only guardrails take a margin; "
                         f"{name!r} is the primary metric")
    else:
        margin = None
    return MetricSpec(name, role, mtype, hib, margin)


def registry_from_records(records: Iterable[Mapping], *, source: str = "registry") -> dict[str, ExperimentSpec]:
    """Group entries (one mapping per experiment × metric, fields as in the module docstring) into specs.

    Returns ``{experiment_id: ExperimentSpec}``. Raises ``ValueError`` naming the experiment, field and
    row number (1-based) on a missing or invalid value, a duplicate metric, conflicting experiment-level
    values, or an experiment without exactly one primary metric.
    """
    by_exp: dict[str, dict] = {}
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise ValueError(f"registry row {i}: expected a mapping of field to value, got {type(rec).__name__}")
        exp_id = rec.get("experiment_id")
        if _missing(exp_id):
            raise ValueError(f"registry row {i}: field 'experiment_id' is missing")
        exp_id = str(exp_id).strip()
        where = f"row {i}"
        unknown = set(rec) - set(_EXPERIMENT_FIELDS) - set(_METRIC_FIELDS) - {"experiment_id"}
        if unknown:
            raise ValueError(f"experiment {exp_id!r} ({where}): unknown field(s) {', '.join(sorted(unknown))}")
        e = by_exp.setdefault(exp_id, {"metrics": [], "fields": {}, "rows": {}})
        m = _metric(rec, exp_id, where)
        if any(x.metric_name == m.metric_name for x in e["metrics"]):
            raise ValueError(f"{_where(exp_id, 'metric_name', where)}: metric {m.metric_name!r} declared twice")
        e["metrics"].append(m)
        for f in _EXPERIMENT_FIELDS:
            if _missing(rec.get(f)):
                continue
            v = _experiment_value(f, rec[f], exp_id, where)
            if f in e["fields"] and e["fields"][f] != v:
                raise ValueError(f"{_where(exp_id, f, where)}: {v!r} conflicts with {e['fields'][f]!r} "
                                 f"on {e['rows'][f]}")
            e["fields"][f], e["rows"][f] = v, where
    out = {}
    for exp_id, e in by_exp.items():
        prim = [m for m in e["metrics"] if m.role == "primary"]
        if len(prim) != 1:
            raise ValueError(f"{_where(exp_id, 'role', '')}: needs exactly one primary metric, got {len(prim)} "
                             f"({', '.join(m.metric_name for m in prim) or 'none'})")
        out[exp_id] = _build(exp_id, prim[0], tuple(m for m in e["metrics"] if m.role == "guardrail"),
                             e["fields"], source)
    return out


def _build(exp_id, primary, guardrails, fields, source) -> ExperimentSpec:
    f = {**DEFAULTS, **fields}
    if f["baseline_sd"] is not None and primary.metric_type == "proportion":
        raise ValueError(f"{_where(exp_id, 'baseline_sd', '')}: only for a mean or ratio primary metric "
                         f"({primary.metric_name} is a proportion)")
    if f["baseline"] is not None and primary.metric_type == "proportion" and not f["baseline"] < 1:
        raise ValueError(f"{_where(exp_id, 'baseline', '')}: a rate must lie in (0, 1), got {f['baseline']!r}")
    return ExperimentSpec(
        experiment_id=exp_id, primary=primary, guardrails=guardrails, mde_relative=f["mde_relative"],
        alpha=f["alpha"], power=f["power"], analysis_mode=f["analysis_mode"],
        max_duration_days=f["max_duration_days"], planned_users_per_arm_stated=f["planned_users_per_arm"],
        baseline=f["baseline"], baseline_sd=f["baseline_sd"], source=source)


def load_registry_csv(path) -> dict[str, ExperimentSpec]:
    """Read a seed-like CSV (header = the row fields; empty cells = not declared)."""
    p = Path(path)
    with p.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    try:
        return registry_from_records(rows)
    except ValueError as exc:
        raise ValueError(f"{p.name}: {exc}") from None


def load_registry_yaml(path) -> dict[str, ExperimentSpec]:
    """Read a YAML registry. Either a list of entries under ``entries:`` (the CSV rows), or::

        experiments:
          exp_banner_bogo:
            mde_relative: 0.1
            analysis_mode: fixed
            metrics:
              - {metric_name: conversion_rate, role: primary}
              - {metric_name: revenue_per_user, role: guardrail, non_inferiority_margin: 0.05}

    where the experiment-level keys apply to every metric of the experiment.
    """
    import yaml

    p = Path(path)
    doc = yaml.safe_load(p.read_text()) or {}
    if not isinstance(doc, Mapping) or not ({"entries", "experiments"} & set(doc)):
        raise ValueError(f"{p.name}: expected a mapping with 'experiments' (or 'entries') at the top level")
    records = list(doc.get("entries") or [])
    for exp_id, body in (doc.get("experiments") or {}).items():
        if not isinstance(body, Mapping) or not isinstance(body.get("metrics"), list) or not body["metrics"]:
            raise ValueError(f"{p.name}: experiment {exp_id!r}, field 'metrics': a non-empty list is required")
        common = {k: v for k, v in body.items() if k != "metrics"}
        for m in body["metrics"]:
            if not isinstance(m, Mapping):
                raise ValueError(f"{p.name}: experiment {exp_id!r}, field 'metrics': each entry must be a mapping")
            records.append({"experiment_id": exp_id, **common, **m})
    try:
        return registry_from_records(records)
    except ValueError as exc:
        raise ValueError(f"{p.name}: {exc}") from None


def default_spec(experiment_id: str) -> ExperimentSpec:
    """The documented defaults for an experiment declared nowhere (see the module docstring)."""
    guards = tuple(MetricSpec(m, "guardrail", KNOWN_METRICS[m], True, margin) for m, margin in DEFAULT_GUARDRAILS)
    return _build(str(experiment_id), MetricSpec(DEFAULT_PRIMARY, "primary", KNOWN_METRICS[DEFAULT_PRIMARY]),
                  guards, {}, "default")


def registry_for(experiment_ids: Iterable[str], registry: Mapping[str, ExperimentSpec] | None = None
                 ) -> dict[str, ExperimentSpec]:
    """The declared spec of each experiment, or :func:`default_spec` for one declared nowhere."""
    registry = registry or {}
    return {str(e): registry.get(str(e)) or default_spec(str(e)) for e in experiment_ids}


#: optional columns of the raw ``experiments`` table that override the registry
OVERRIDE_COLUMNS = ("primary_metric", "mde_relative", "alpha", "power", "planned_users_per_arm", "baseline",
                    "baseline_sd", "analysis_mode", "max_duration_days")


def apply_experiment_overrides(registry: Mapping[str, ExperimentSpec] | None, experiment_rows
                               ) -> dict[str, ExperimentSpec]:
    """Apply the optional columns :data:`OVERRIDE_COLUMNS` of raw ``experiments`` rows to the registry.

    ``experiment_rows``: a pandas DataFrame or an iterable of mappings with ``experiment_id``. Every
    experiment in the rows gets a spec (the registry's, else :func:`default_spec`); a non-empty
    override value replaces the declared one (``primary_metric`` makes that metric the primary; if it
    was a guardrail it stops being one). Returns a new ``{experiment_id: ExperimentSpec}`` (experiments
    only in the registry are kept). Errors name the experiment, the column and the row.
    """
    if hasattr(experiment_rows, "to_dict"):
        experiment_rows = experiment_rows.to_dict("records")
    out = dict(registry or {})
    for i, row in enumerate(experiment_rows, start=1):
        exp_id = row.get("experiment_id")
        if _missing(exp_id):
            raise ValueError(f"experiments row {i}: column 'experiment_id' is missing")
        exp_id = str(exp_id).strip()
        spec = out.get(exp_id) or default_spec(exp_id)
        where = f"experiments row {i}"
        changes: dict = {}
        for col in OVERRIDE_COLUMNS[1:]:
            if col in row and not _missing(row[col]):
                key = "planned_users_per_arm_stated" if col == "planned_users_per_arm" else col
                changes[key] = _experiment_value(col, row[col], exp_id, where)
        pm = row.get("primary_metric")
        if not _missing(pm) and str(pm).strip() != spec.primary.metric_name:
            pm = str(pm).strip()
            mtype = KNOWN_METRICS.get(pm)
            if mtype is None:
                raise ValueError(f"{_where(exp_id, 'primary_metric', where)}: {pm!r} is not one of "
                                 f"{', '.join(KNOWN_METRICS)}")
            changes["primary"] = MetricSpec(pm, "primary", mtype)
            changes["guardrails"] = tuple(g for g in spec.guardrails if g.metric_name != pm)
        if changes:
            spec = dataclasses.replace(spec, **changes, source=f"{spec.source}+experiments table")
            _build(exp_id, spec.primary, spec.guardrails, {"baseline": spec.baseline,
                                                            "baseline_sd": spec.baseline_sd}, spec.source)
        out[exp_id] = spec
    return out
