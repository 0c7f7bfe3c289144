r"""Metrics as code: the one definitions file of the experiment metrics (``seeds/experiment_metrics.csv``).

The SQL sufficient statistics, the analysis (:func:`~retail_lift.experiments.analyze_experiments`), the
registry (:data:`~retail_lift.experiments.registry.KNOWN_METRICS`), the dashboard and the docs all read
the same seed. One row per metric:

=========================  ==========================================================================
column                     meaning
=========================  ==========================================================================
``metric_name``            identifier (lower case, ``[a-z][a-z0-9_]*``), unique
``label``                  human label (dashboard, docs)
``metric_type``            ``proportion`` (share of users with ``numerator`` = 1), ``mean`` (numerator
                           per exposed user) or ``ratio`` (sum of numerator / sum of denominator over the
                           arm's users, e.g. average order value; delta-method variance)
``numerator``              in-window measure (:data:`IN_WINDOW_MEASURES`)
``denominator``            in-window measure; ratio metrics only (empty = 1 per user otherwise)
``covariate``              pre-period measure for CUPED (:data:`PRE_PERIOD_MEASURES`); empty = no CUPED
``covariate_denominator``  pre-period measure; ratio metrics with a covariate only (the covariate is then
                           the pre-period ratio ``covariate / covariate_denominator``)
``winsorize_percentile``   in (0.5, 1): the numerator is capped at this percentile, fixed on pre-period
                           data (never on the outcome); ``mean`` and ``ratio`` only; empty = no cap
``higher_is_better``       true / false
``description``            one sentence for the docs
=========================  ==========================================================================

Measures are per-exposure columns of ``fct_experiment_exposures``. A proportion's numerator must be a
0/1 measure (:data:`BINARY_MEASURES`).

:func:`load_metric_definitions` reads and validates the file; every error is a ``ValueError`` naming
the file, the (1-based data) row and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import re
from pathlib import Path

__all__ = ["BINARY_MEASURES", "IN_WINDOW_MEASURES", "METRICS_SEED", "METRIC_TYPES", "PRE_PERIOD_MEASURES",
           "MetricDefinition", "load_metric_definitions", "metric_definitions_markdown", "write_metric_docs"]

#: the default definitions file
METRICS_SEED = Path(__file__).resolve().parents[2] / "seeds" / "experiment_metrics.csv"
METRIC_TYPES = ("proportion", "mean", "ratio")
#: per-exposure measures of fct_experiment_exposures over the attribution window
IN_WINDOW_MEASURES = ("converted", "orders", "revenue", "added_to_cart", "cart_adds", "sessions")
#: 0/1 measures (the numerator of a proportion)
BINARY_MEASURES = ("converted", "added_to_cart")
#: per-exposure measures of fct_experiment_exposures over the CUPED pre-period
PRE_PERIOD_MEASURES = ("pre_orders", "pre_revenue", "pre_cart_adds", "pre_sessions")
COLUMNS = ("metric_name", "label", "metric_type", "numerator", "denominator", "covariate", "covariate_denominator",
           "winsorize_percentile", "higher_is_better", "description")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class MetricDefinition:
    """One row of the metric definitions file (see the module docstring)."""

    metric_name: str
    label: str
    metric_type: str
    numerator: str
    denominator: str | None = None
    covariate: str | None = None
    covariate_denominator: str | None = None
    winsorize_percentile: float | None = None
    higher_is_better: bool = True
    description: str = ""

    @property
    def is_ratio(self) -> bool:
        return self.metric_type == "ratio"

    @property
    def has_covariate(self) -> bool:
        return self.covariate is not None


def _blank(v) -> bool:
    return v is None or str(v).strip() == ""


def _parse_row(row: dict, where: str) -> MetricDefinition:  # noqa: C901, PLR0912 - one check per field of a metric definition row, each with its own error
    def err(col: str, msg: str) -> ValueError:
        return ValueError(f"{where}, column {col!r}: {msg}")

    def text(col: str) -> str | None:
        v = row.get(col)
        return None if _blank(v) else str(v).strip()

    name = text("metric_name")
    if name is None:
        raise err("metric_name", "missing")
    if not _NAME.match(name):
        raise err("metric_name", f"must be lower case letters, digits and _ (starting with a letter), got {name!r}")
    mtype = (text("metric_type") or "").lower()
    if mtype not in METRIC_TYPES:
        raise err("metric_type", f"must be one of {', '.join(METRIC_TYPES)}, got {row.get('metric_type')!r}")
    num = text("numerator")
    if num is None:
        raise err("numerator", "missing")
    if num not in IN_WINDOW_MEASURES:
        raise err("numerator", f"{num!r} is not an in-window measure ({', '.join(IN_WINDOW_MEASURES)})")
    if mtype == "proportion" and num not in BINARY_MEASURES:
        raise err("numerator", f"a proportion needs a 0/1 measure ({', '.join(BINARY_MEASURES)}), got {num!r}")
    den = text("denominator")
    cov = text("covariate")
    cov_den = text("covariate_denominator")
    if mtype == "ratio":
        if den is None:
            raise err("denominator", "a ratio metric needs a denominator measure")
        if den not in IN_WINDOW_MEASURES:
            raise err("denominator", f"{den!r} is not an in-window measure ({', '.join(IN_WINDOW_MEASURES)})")
        if cov is not None and cov_den is None:
            raise err("covariate_denominator", "a ratio metric with a covariate needs a covariate_denominator")
    else:
        if den is not None:
            raise err("denominator", f"only ratio metrics take a denominator ({name!r} is a {mtype})")
        if cov_den is not None:
            raise err("covariate_denominator", f"only ratio metrics take one ({name!r} is a {mtype})")
    for col, v in (("covariate", cov), ("covariate_denominator", cov_den)):
        if v is not None and v not in PRE_PERIOD_MEASURES:
            raise err(col, f"{v!r} is not a pre-period measure ({', '.join(PRE_PERIOD_MEASURES)})")
    if cov is None and cov_den is not None:
        raise err("covariate_denominator", "given without a covariate")
    wp = text("winsorize_percentile")
    pct = None
    if wp is not None:
        if mtype == "proportion":
            raise err("winsorize_percentile", "a proportion is 0/1 and is never capped; leave it empty")
        try:
            pct = float(wp)
        except ValueError:
            raise err("winsorize_percentile", f"expected a number, got {wp!r}") from None
        if not (math.isfinite(pct) and 0.5 < pct < 1):
            raise err("winsorize_percentile", f"must lie in (0.5, 1), e.g. 0.99, got {wp!r}")
    hib = (text("higher_is_better") or "true").lower()
    if hib not in ("true", "false", "1", "0", "yes", "no"):
        raise err("higher_is_better", f"expected true or false, got {row.get('higher_is_better')!r}")
    label = text("label") or name
    return MetricDefinition(name, label, mtype, num, den, cov, cov_den, pct, hib in ("true", "1", "yes"),
                            text("description") or "")


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, MetricDefinition]:
    p = Path(path)
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in ("metric_name", "metric_type", "numerator") if c not in header]
        if missing:
            raise ValueError(f"{p.name}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        unknown = [c for c in header if c not in COLUMNS]
        if unknown:
            raise ValueError(f"{p.name}: unknown column(s) {', '.join(unknown)}; expected {', '.join(COLUMNS)}")
        out: dict[str, MetricDefinition] = {}
        for i, raw in enumerate(reader, start=1):
            row = {(k or "").strip(): v for k, v in raw.items()}
            if None in raw:
                raise ValueError(f"{p.name}: row {i}: more cells than columns")
            d = _parse_row(row, f"{p.name}: row {i}")
            if d.metric_name in out:
                raise ValueError(f"{p.name}: row {i}, column 'metric_name': {d.metric_name!r} defined twice")
            out[d.metric_name] = d
    if not out:
        raise ValueError(f"{p.name}: no metric defined")
    return out


def load_metric_definitions(path: str | Path | None = None) -> dict[str, MetricDefinition]:
    """``{metric_name: MetricDefinition}`` from the definitions file (default: :data:`METRICS_SEED`).

    Raises ``ValueError`` naming the file, row and column of the first invalid value (unknown type or
    measure, a denominator on a non-ratio metric, a percentile outside (0.5, 1), a duplicate name, …).
    """
    p = Path(path) if path is not None else METRICS_SEED
    if not p.exists():
        raise ValueError(f"metric definitions file {p} does not exist")
    return dict(_load(str(p.resolve()), p.stat().st_mtime))


def metric_definitions_markdown(definitions: dict[str, MetricDefinition] | None = None) -> str:
    """The definitions as a Markdown table (the docs block ``experiment_metric_definitions``)."""
    defs = load_metric_definitions() if definitions is None else definitions

    def cell(v) -> str:
        return "" if v is None else str(v).replace("|", "\\|")

    lines = ["| metric | label | type | numerator | denominator | CUPED covariate | capped at | higher is better "
             "| definition |", "|---|---|---|---|---|---|---|---|---|"]
    for d in defs.values():
        cov = d.covariate if not d.covariate_denominator else f"{d.covariate} / {d.covariate_denominator}"
        cap = "" if d.winsorize_percentile is None else f"{d.winsorize_percentile:g} percentile (pre-period)"
        lines.append("| " + " | ".join(cell(v) for v in (
            f"`{d.metric_name}`", d.label, d.metric_type, d.numerator, d.denominator or "1 per user", cov or "none",
            cap, "yes" if d.higher_is_better else "no", d.description)) + " |")
    return ("Generated from `seeds/experiment_metrics.csv` by `retail_lift.experiments.metrics.write_metric_docs` "
            "(a test fails when it is out of date); edit the seed, not this table.\n\n" + "\n".join(lines))


def write_metric_docs(path: str | Path, definitions: dict[str, MetricDefinition] | None = None) -> Path:
    """Write :func:`metric_definitions_markdown` as the dbt docs block ``experiment_metric_definitions``."""
    from retail_lift.montecarlo import write_docs_block

    return write_docs_block(metric_definitions_markdown(definitions), "experiment_metric_definitions", path)

