"""The checkpoint runner: every suite, batch by batch, through Great Expectations.

``run_checkpoint(warehouse_path, raw_dir, out_dir)`` validates every table of the registry
(``retail_lift.quality.suites``) and every other table of the ``ml`` and ``marts`` schemas, writes
``out_dir/summary.json`` (one record per expectation: table, expectation, column, severity, success,
unexpected count, sample bad values) and the Data Docs site ``out_dir/data_docs/index.html``, and
returns a ``QualityResult``. It fails (``result.success`` is False; ``raise_for_errors()`` raises
``QualityError``) when an error-level expectation fails; warnings are reported only.

How it uses Great Expectations 1.x: an ephemeral (in-memory) context with a pandas datasource, one
dataframe asset per table, and an expectation suite with its validation definition for the table's
rows, its schema and each whole-table rule; each batch of rows is passed as
``batch_parameters={"dataframe": df}``. GX's SQL datasource
is not used: over DuckDB it is broken upstream in GX 1.x, and it would keep the warehouse open.
One GX ``Checkpoint`` runs a list of validation definitions over the same batch parameters, which
does not fit batches that differ per table; this module plays that role (run the validations,
collect the results, build the Data Docs). Usage statistics are off (``GX_ANALYTICS_ENABLED``) and
nothing is fetched from the network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retail_lift.quality import suites as registry
from retail_lift.quality.checks import (
    AS_OF_PLUS_ONE_DAY,
    ERROR,
    GX_SEVERITY,
    WARNING,
    RowCheck,
    RowsWhere,
    TableCheck,
    TableSuite,
    accepted_types,
    is_null,
    normalize_type,
)
from retail_lift.quality.report import write_index
from retail_lift.quality.sources import UNPARSEABLE_SUFFIX, DataStore, TableSource, WarehouseLockedError

DEFAULT_BATCH_ROWS = 250_000
DEFAULT_SAMPLE_SIZE = 10
#: Rows of a whole-table rule's frame handed to GX (the count of all breaking rows is exact).
DEFAULT_FRAME_ROWS = 1_000
_STRUCTURAL_KWARGS = {"column", "column_A", "column_B", "column_list", "ignore_row_if", "condition_parser"}


class QualityError(Exception):
    """An error-level expectation failed; ``.result`` holds the whole ``QualityResult``."""

    def __init__(self, result: QualityResult):
        super().__init__(result.message())
        self.result = result


@dataclass
class CheckResult:
    """The outcome of one expectation on one table, added up over its batches."""

    table: str
    expectation: str
    column: str
    severity: str
    kwargs: dict[str, Any]
    suite: str
    rule: str = ""  # the whole-table rule (unique_order_id, customer_id_in_customers, columns_present...)
    status: str = "passed"  # passed | failed | skipped
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    sample_bad_values: list = field(default_factory=list)
    sample_rows: list = field(default_factory=list)
    batches: int = 0
    message: str = ""
    unit: str = "rows"  # what element_count counts

    @property
    def success(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "passed"

    def describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in _STRUCTURAL_KWARGS)
        call = f"{self.expectation}({args})" if args else self.expectation
        text = f"{self.table}"
        if self.column:
            text += f" column {self.column}"
        text += f": {call}"
        if self.rule:
            text += f" [rule {self.rule}]"
        if self.status == "skipped":
            return f"{text} skipped: {self.message}"
        if self.message and not self.unexpected_count:
            return f"{text} failed: {self.message}"
        text += f" failed on {self.unexpected_count:,} of {self.element_count:,} {self.unit}"
        if self.sample_bad_values:
            text += f"; sample bad values: {_short(self.sample_bad_values, 200)}"
        if self.message:
            text += f" ({self.message})"
        return text

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["success"] = self.success
        return d


@dataclass
class TableReport:
    table: str
    status: str  # checked | empty (no rows: not checked) | skipped | failed (could not be read or validated)
    rows: int | None = None
    batches: int = 0
    expectations: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class QualityResult:
    """What ``run_checkpoint`` found. ``success`` is False when an error-level expectation failed."""

    results: list[CheckResult]
    tables: list[TableReport]
    notes: list[str]
    summary_path: Path | None
    data_docs_index: Path | None
    seconds: float

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed" and r.severity == ERROR]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed" and r.severity == WARNING]

    @property
    def success(self) -> bool:
        return not self.errors

    def message(self) -> str:
        """One line per failed error-level expectation (table, column, expectation, sample bad values)."""
        if self.success:
            return f"data quality: all error-level expectations passed ({len(self.warnings)} warning(s))"
        lines = [f"data quality: {len(self.errors)} error-level expectation(s) failed"]
        lines += [f"  {r.describe()}" for r in self.errors]
        return "\n".join(lines)

    def raise_for_errors(self) -> QualityResult:
        if not self.success:
            raise QualityError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "seconds": round(self.seconds, 2),
            "counts": {
                "tables_checked": sum(t.status == "checked" for t in self.tables),
                "tables_skipped": sum(t.status == "skipped" for t in self.tables),
                "tables_empty": sum(t.status == "empty" for t in self.tables),
                "tables_failed": sum(t.status == "failed" for t in self.tables),
                "expectations": len(self.results),
                "passed": sum(r.status == "passed" for r in self.results),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "skipped": sum(r.status == "skipped" for r in self.results),
            },
            "data_docs": str(self.data_docs_index) if self.data_docs_index else None,
            "notes": self.notes,
            "tables": [asdict(t) for t in self.tables],
            "results": [r.to_dict() for r in self.results],
        }


def run_checkpoint(warehouse_path: str | Path | None, raw_dir: str | Path | None, out_dir: str | Path, *,  # noqa: C901, PLR0912, PLR0913 - one keyword per command-line option of the quality step
                   suites: Iterable[TableSuite] | None = None, discover: bool = True,
                   batch_rows: int = DEFAULT_BATCH_ROWS, sample_size: int = DEFAULT_SAMPLE_SIZE,
                   frame_rows: int = DEFAULT_FRAME_ROWS, as_of: dt.datetime | None = None,
                   build_docs: bool = True, raise_on_error: bool = False, raw_as_warnings: bool = False,
                   log: Callable[[str], Any] | None = None) -> QualityResult:
    """Validate the raw tables and the warehouse; write the summary and the Data Docs under ``out_dir``.

    ``warehouse_path``  the DuckDB file, opened read-only in short-lived connections (one for a table's
                        whole-table queries, one per batch of rows, never during validation); None or
                        a missing file skips the warehouse tables.
    ``raw_dir``         the landed raw folder (``RETAIL_LIFT_RAW``); None skips the raw tables.
    ``suites``          the suites to run (default: ``retail_lift.quality.suites.SUITES``).
    ``discover``        also check tables of the ``ml`` and ``marts`` schemas that have no suite,
                        by column-name conventions.
    ``batch_rows``      at most this many rows of a table in memory at once (a day larger than that
                        is one batch).
    ``as_of``           "now" for the future-timestamp checks (default: the current UTC time).
    ``raise_on_error``  raise ``QualityError`` instead of returning a failed result.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    started = time.perf_counter()
    log = log or (lambda _msg: None)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    as_of = as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store = DataStore(warehouse_path, raw_dir)
    catalog = store.catalog()
    notes: list[str] = []
    if raw_dir is None or not Path(raw_dir).is_dir():
        notes.append(f"raw folder {raw_dir} not found: raw tables not checked")
    if warehouse_path is None or not Path(warehouse_path).exists():
        notes.append(f"warehouse {warehouse_path} not found: warehouse tables not checked")

    suites = list(registry.SUITES if suites is None else suites)
    if raw_as_warnings:
        # staging quarantines every raw row that breaks the contract (marts.rpt_quarantine_summary counts
        # them): dirty input is reported, the build goes on; the warehouse's tables keep their errors
        suites = [dataclasses.replace(s, checks=tuple(dataclasses.replace(c, severity=WARNING)
                                                      for c in s.flat_checks)) if s.source == "raw" else s
                  for s in suites]
    if discover:
        known = {s.table for s in suites} | {s.table for s in registry.SUITES}
        by_convention, unchecked = [], []
        for table, columns in catalog.items():
            if table.split(".", 1)[0] in registry.CONVENTION_SCHEMAS and table not in known:
                suite = registry.convention_suite(table, columns)
                (by_convention if suite.flat_checks else unchecked).append(table)
                if suite.flat_checks:
                    suites.append(suite)
        if by_convention:
            notes.append(f"no suite of their own, checked by column-name conventions: {', '.join(by_convention)}")
        if unchecked:
            notes.append(f"no suite of their own and no probability-like columns, not checked: "
                         f"{', '.join(unchecked)}")

    docs_dir = out / "data_docs"
    gx_run = _GX(docs_dir if build_docs else None, sample_size)
    results: list[CheckResult] = []
    tables: list[TableReport] = []
    for suite in suites:
        t0 = time.perf_counter()
        if suite.table not in catalog:
            where = "the raw folder" if suite.source == "raw" else "the warehouse"
            msg = f"table not found in {where}; skipped"
            notes.append(f"{suite.table}: {msg}")
            tables.append(TableReport(suite.table, "skipped", message=msg))
            log(f"  skip   {suite.table}: {msg}")
            continue
        try:
            report, table_results = _check_table(suite, catalog, store, gx_run, batch_rows, frame_rows, as_of,
                                                 sample_size, raw_as_warnings and suite.source == "raw")
        except WarehouseLockedError:
            raise
        except Exception as e:  # one table that cannot be read or validated must not hide the others
            report = TableReport(suite.table, "failed", message=f"{type(e).__name__}: {str(e).splitlines()[0]}")
            table_results = [CheckResult(suite.table, "(table could not be checked)", "", ERROR, {}, suite.table,
                                         status="failed", message=report.message)]
        report.seconds = round(time.perf_counter() - t0, 2)
        tables.append(report)
        results.extend(table_results)
        failed = [r for r in table_results if r.status == "failed"]
        label = ("fail" if any(r.severity == ERROR for r in failed) else "warn" if failed
                 else "empty" if report.status == "empty" else "ok")
        log(f"  {label:<6} {suite.table}: "
            f"{report.rows or 0:,} rows in {report.batches} batch(es), {report.expectations} expectations, "
            f"{len(failed)} failed, {report.seconds:.1f} s")

    result = QualityResult(results, tables, notes, out / "summary.json", None, 0.0)
    if build_docs:
        gx_run.build_docs()
    result.seconds = time.perf_counter() - started
    if build_docs:
        result.data_docs_index = write_index(result, docs_dir)
    result.summary_path.write_text(json.dumps(_plain(result.to_dict()), indent=2) + "\n")
    if raise_on_error:
        result.raise_for_errors()
    return result


# ---------------------------------------------------------------------------------------------


def _check_table(suite: TableSuite, catalog: dict[str, dict[str, str]], store: DataStore, gx_run: _GX,
                 batch_rows: int, frame_rows: int, as_of: dt.datetime,
                 sample_size: int, raw_as_warnings: bool = False) -> tuple[TableReport, list[CheckResult]]:
    actual = catalog[suite.table]
    src = store.source(suite.table, actual, suite.columns, cast_to_declared=suite.source == "raw")
    results: list[CheckResult] = []

    # 0. A legitimately empty table (a raw table absent from the input, a model over it, an evaluation model
    #    without the simulated truth): nothing to check, and its column types (an empty frame's) mean nothing.
    #    "empty: not checked" with the reason; dbt's test test_shop_input_has_rows fails a build with no rows.
    with store.session():
        if src.row_count() == 0:
            msg = f"empty: not checked ({_empty_reason(suite.table, store)})"
            return (TableReport(suite.table, "empty", rows=0, message=msg),
                    [CheckResult(suite.table, "(empty table: not checked)", "", WARNING, {}, suite.table,
                                 status="skipped", message=msg, unit="table")])

    # 1. Columns and types: one row per declared column, with its DuckDB type (missing when absent).
    if suite.columns:
        # a raw column lands as text when some of its values do not parse; the <column>__unparseable check
        # below reports each such value as an error, so the type itself is only a warning there
        type_severity = WARNING if suite.source == "raw" else ERROR
        schema = pd.DataFrame({
            "column_name": list(suite.columns),
            "declared_type": list(suite.columns.values()),
            "actual_type": [normalize_type(actual[c]) if c in actual else None for c in suite.columns],
            "type_mismatch": [
                f"{c}: {normalize_type(actual[c])}, expected {d}"
                if c in actual and normalize_type(actual[c]) not in accepted_types(d) else None
                for c, d in suite.columns.items()],
        }, dtype="object")
        schema_checks = [
            TableCheck("columns_present", "expect_column_values_to_not_be_null", {"column": "actual_type"}, "",
                       (), sample_column="column_name",
                       notes="One row per declared column; actual_type is missing when the table lacks it."),
            TableCheck("column_types", "expect_column_values_to_be_null", {"column": "type_mismatch"}, "",
                       (), sample_column="type_mismatch", severity=type_severity,
                       notes="Declared types are families (string, integer, number, ...) or exact DuckDB types."),
        ]
        for res in gx_run.validate(suite.table, f"{suite.table}.schema", schema_checks, [("schema", schema)],
                                   as_of, ["column_name"]):
            res.column = ", ".join(str(v).split(":")[0] for v in res.sample_bad_values) if res.sample_bad_values \
                else "(all declared columns)"
            res.unit = "declared columns"
            results.append(res)

    # Whole-table work in DuckDB first, in one short connection: row count, batch plan, the frames of
    # the whole-table rules, and the rows themselves when they fit in one batch.
    row_checks = [c for c in suite.flat_checks if isinstance(c, RowCheck)]
    row_checks += [is_null(c + UNPARSEABLE_SUFFIX, severity=WARNING if raw_as_warnings else ERROR,
                           notes=f"Values of {c} that do not parse as {t} (staging quarantines those rows).")
                   for c, t in src.cast_columns.items()]
    rules: list[tuple[TableCheck, pd.DataFrame, int, int]] = []
    not_run: list[CheckResult] = []
    with store.session():
        total = src.row_count()
        batches = src.plan_batches(total, suite.batch_by, batch_rows)
        prefetched = [src.fetch(batches[0])] if len(batches) == 1 and row_checks else []
        for check in (c for c in suite.flat_checks if isinstance(c, TableCheck)):
            why, other = _rule_inputs(check, actual, catalog, store)
            if why:
                not_run.append(_skipped(suite.table, f"{suite.table}.{check.name}", check, why))
                continue
            frame, n_rows = src.query(check.sql, other, limit=frame_rows)
            population = total if check.population_sql is None else int(src.query(check.population_sql)[0].iat[0, 0])
            rules.append((check, frame, n_rows, population))

    # 2. Row checks, batch by batch (each batch read with its own connection, validated, dropped).
    def frames():
        for batch in batches:
            df = prefetched.pop() if prefetched else src.fetch(batch)
            if suite.derive is not None:
                try:
                    df = suite.derive(df)
                except KeyError:
                    pass  # an input column is missing: the schema check says which; derived checks are skipped
            yield batch.label, df

    if row_checks:
        results += gx_run.validate(suite.table, suite.table, row_checks, frames(), as_of,
                                   [c for c in suite.sample_columns if c in actual])

    # 3. Whole-table rules: GX validates the frames DuckDB computed.
    for check, frame, n_rows, population in rules:
        idx = [check.sample_column] if check.sample_column else list(check.columns)
        [res] = gx_run.validate(suite.table, f"{suite.table}.{check.name}", [check], [("whole table", frame)],
                                as_of, idx)
        if n_rows > len(frame) and res.status == "failed":
            res.message = f"GX validated the first {len(frame):,} of {n_rows:,} breaking rows"
            res.unexpected_count = n_rows
        if check.name == "row_count":
            res.element_count, res.unit = 1, "table"
        else:
            res.element_count, res.unit = population, check.unit
        results.append(res)

    results += not_run
    report = TableReport(suite.table, "checked", rows=total, batches=len(batches),
                         expectations=len(results), message=suite.description)
    return report, results


def _load_report(store: DataStore) -> dict[str, tuple[str, int, str]]:
    """table -> (status, row_count, note) from ``retail-lift prepare``'s load report ({} when there is none)."""
    path = store.raw_dir / "_load_report.parquet" if store.raw_dir is not None else None
    if path is None or not path.exists():
        return {}
    df = pd.read_parquet(path, columns=["table_name", "status", "row_count", "note"])
    return {str(r.table_name): (str(r.status), int(r.row_count or 0), str(r.note or ""))
            for r in df.itertuples(index=False)}


def _empty_reason(table: str, store: DataStore) -> str:
    """Why a table has no rows, from the load report: the raw input that is absent or header-only."""
    report = _load_report(store)
    schema, name = table.split(".", 1) if "." in table else ("", table)
    if schema == "raw":
        status, rows, note = report.get(name, ("", 0, ""))
        if status == "empty":
            return f"absent from the input: {note}" if note else "absent from the input"
        return "the input file has no rows (load report row_count 0)"
    empty_inputs = sorted(t for t, (status, rows, _note) in report.items() if rows == 0)
    text = "0 rows in the warehouse, built from its inputs (dbt's tests ran on it)"
    if schema == "evaluation":
        text += "; evaluation models build empty without the simulated world's truth"
    if empty_inputs:
        text += f"; raw tables absent or empty in the input: {', '.join(empty_inputs)}"
    return text


def _rule_inputs(check: TableCheck, actual: dict[str, str], catalog: dict[str, dict[str, str]],
                 store: DataStore) -> tuple[str | None, TableSource | None]:
    """(why the rule cannot run, or None; the source of the other table it reads)."""
    missing = [c for c in check.columns if c not in actual]
    if missing:
        return f"column {', '.join(missing)} not found", None
    if check.other is None:
        return None, None
    if check.other not in catalog:
        return f"{check.other} not found", None
    other_missing = [c for c in check.other_columns if c not in catalog[check.other]]
    if other_missing:
        return f"{check.other} has no column {', '.join(other_missing)}", None
    other_suite = registry.suite_for(check.other)
    return None, store.source(check.other, catalog[check.other], other_suite.columns if other_suite else {},
                              cast_to_declared=check.other.startswith("raw."))


def _skipped(table: str, suite_name: str, check, why: str) -> CheckResult:
    return CheckResult(table, check.expectation, check.label, check.severity, _plain(dict(check.kwargs)),
                       suite_name, rule=check.name, status="skipped", message=why)


class _GX:
    """An ephemeral GX context with a pandas datasource and (optionally) a Data Docs site on disk."""

    SITE = "retail_lift_quality"

    def __init__(self, docs_dir: Path | None, sample_size: int):
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.gx = gx
        sites = {}
        if docs_dir is not None:
            if docs_dir.exists():
                shutil.rmtree(docs_dir)  # the site shows this run only
            sites[self.SITE] = {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                                   data_docs_sites=sites, analytics_enabled=False,
                                   progress_bars=ProgressBarsConfig(globally=False))
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.datasource = self.context.data_sources.add_pandas("retail_lift")
        self._batch_definitions: dict[str, Any] = {}
        self.docs_dir = docs_dir
        self.sample_size = sample_size
        self.run_time = dt.datetime.now(dt.UTC)

    def _expectation(self, check: RowCheck | TableCheck, as_of: dt.datetime):
        from great_expectations.expectations.registry import get_expectation_impl
        from great_expectations.expectations.row_conditions import Column

        cls = get_expectation_impl(check.expectation)
        kwargs = dict(check.kwargs)
        for k, v in kwargs.items():
            if v is AS_OF_PLUS_ONE_DAY:
                kwargs[k] = as_of + dt.timedelta(days=1)
            elif isinstance(v, RowsWhere):
                kwargs[k] = Column(v.column) == v.value
        return cls(**kwargs, severity=GX_SEVERITY[check.severity], notes=check.notes,
                   meta={"severity": check.severity})

    def validate(self, table: str, name: str, checks: list, frames: Iterable[tuple[str, pd.DataFrame]],
                 as_of: dt.datetime, index_columns: list[str]) -> list[CheckResult]:
        """Validate ``checks`` on every frame; one CheckResult per check, added up over the frames.

        A row check on a column that the frames do not have is reported as skipped (the schema
        check reports the missing column)."""
        from great_expectations.core.run_identifier import RunIdentifier

        frames = iter(frames)
        first = next(frames, None)
        available = set(first[1].columns) if first is not None else set()
        runnable: list[tuple[CheckResult, RowCheck | TableCheck]] = []
        out: list[CheckResult] = []
        for check in checks:
            kwargs = {k: (f"as_of + 1 day = {(as_of + dt.timedelta(days=1)).isoformat()}"
                          if v is AS_OF_PLUS_ONE_DAY else v) for k, v in check.kwargs.items()}
            res = CheckResult(table, check.expectation, check.label, check.severity, _plain(kwargs), name,
                              rule=check.name if isinstance(check, TableCheck) else "")
            missing = [c for c in check.columns if c not in available] if isinstance(check, RowCheck) else []
            if missing:
                res.status, res.message = "skipped", f"column {', '.join(missing)} not found"
            else:
                runnable.append((res, check))
            out.append(res)
        # the suite is added once with all its expectations (adding them one by one re-serialises it each time)
        suite = self.context.suites.add(self.gx.ExpectationSuite(
            name=name, expectations=[self._expectation(check, as_of) for _, check in runnable]))
        running = {exp.id: pair for exp, pair in zip(suite.expectations, runnable, strict=True)}
        if not running or first is None:
            return out
        batch_definition = self._batch_definition(table)
        vd = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
        for label, df in itertools.chain([first], frames):
            fmt: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": self.sample_size}
            idx = [c for c in index_columns if c in df.columns]
            if idx:
                fmt["unexpected_index_column_names"] = idx
            run_id = RunIdentifier(run_name=f"{name} [{label}]", run_time=self.run_time)
            validation = vd.run(batch_parameters={"dataframe": df}, result_format=fmt, run_id=run_id)
            for er in validation.results:
                if er.expectation_config.id in running:
                    res, check = running[er.expectation_config.id]
                    sample_column = check.sample_column if isinstance(check, TableCheck) else None
                    _add(res, er, self.sample_size, sample_column)
            del df, validation
        return out

    def _batch_definition(self, table: str):
        """One dataframe asset per table (its rows, schema and whole-table frames are all batches of it)."""
        if table not in self._batch_definitions:
            asset = self.datasource.add_dataframe_asset(table)
            self._batch_definitions[table] = asset.add_batch_definition_whole_dataframe("frame")
        return self._batch_definitions[table]

    def build_docs(self) -> None:
        """Build GX's site; its index (empty without network: scripts from CDNs) becomes gx_index.html."""
        if self.docs_dir is None:
            return
        self.context.build_data_docs(site_names=[self.SITE])
        index = self.docs_dir / "index.html"
        if index.exists():
            index.replace(self.docs_dir / "gx_index.html")


def _add(res: CheckResult, er, sample_size: int, sample_column: str | None) -> None:
    """Add one batch's ExpectationValidationResult to the running total."""
    r = er.result or {}
    res.batches += 1
    if er.exception_info and er.exception_info.get("raised_exception"):
        res.status = "failed"
        res.message = str(er.exception_info.get("exception_message") or "exception in GX")[:300]
        return
    res.element_count += int(r.get("element_count") or 0)
    res.unexpected_count += int(r.get("unexpected_count") or 0)
    res.missing_count += int(r.get("missing_count") or 0)
    if not er.success:
        res.status = "failed"
        if "observed_value" in r and not r.get("partial_unexpected_list"):
            res.sample_bad_values = _merge(res.sample_bad_values, [r["observed_value"]], sample_size)
            res.unexpected_count = res.unexpected_count or 1
    rows = [_plain(x) for x in r.get("partial_unexpected_index_list") or []]
    if sample_column:
        values = [row.get(sample_column) for row in rows]
    else:
        values = [_plain(x) for x in r.get("partial_unexpected_list") or []]
    res.sample_bad_values = _merge(res.sample_bad_values, values, sample_size)
    res.sample_rows = _merge(res.sample_rows, rows, sample_size)


def _merge(have: list, new: list, limit: int) -> list:
    seen = {json.dumps(v, sort_keys=True, default=str) for v in have}
    out = list(have)
    for v in new:
        k = json.dumps(v, sort_keys=True, default=str)
        if k not in seen and len(out) < limit:
            seen.add(k)
            out.append(v)
    return out


def _plain(v: Any) -> Any:
    """JSON-ready: numpy scalars, timestamps and NaN become plain values."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | np.ndarray):
        return [_plain(x) for x in v]
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else pd.Timestamp(v).isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, str | int | bool):
        return v
    return str(v)  # RowsWhere, AS_OF_PLUS_ONE_DAY


def _short(v: Any, width: int = 80) -> str:
    text = json.dumps(_plain(v), default=str)
    return text if len(text) <= width else text[: width - 3] + "..."
