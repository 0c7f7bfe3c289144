"""``retail-lift check``: validate the raw tables and the warehouse with Great Expectations.

Register it on the main group with ``main.add_command(quality_command)`` (its name is ``check``).
It prints a compact report, writes ``OUT/summary.json`` and the Data Docs site
``OUT/data_docs/index.html``, and exits 1 when an error-level expectation fails (0 otherwise;
warnings never fail).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click


@click.command("check")
@click.option("--warehouse", "warehouse_path", envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True, type=click.Path(path_type=Path),
              help="The DuckDB warehouse file (RETAIL_LIFT_WAREHOUSE); opened read-only, briefly.")
@click.option("--raw", "raw_dir", envvar="RETAIL_LIFT_RAW", default=Path("warehouse/raw"), show_default=True,
              type=click.Path(path_type=Path), help="The landed raw folder (RETAIL_LIFT_RAW).")
@click.option("--out", "out_dir", default=Path("reports/quality"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where summary.json and the Data Docs site (data_docs/index.html) are written.")
@click.option("--batch-rows", default=250_000, show_default=True, type=click.IntRange(min=1),
              help="At most this many rows of a table in memory at once.")
@click.option("--as-of", default=None, type=click.DateTime(),
              help="'Now' for the future-timestamp checks (default: the current time, UTC).")
@click.option("--table", "tables", multiple=True, metavar="SCHEMA.TABLE",
              help="Check only this table (repeatable), e.g. raw.orders or marts.fct_sessions.")
@click.option("--no-docs", is_flag=True, help="Skip building the Data Docs site.")
@click.option("--warn-only", is_flag=True, help="Report error-level failures but exit 0.")
@click.option("--raw-as-warnings", is_flag=True,
              help="Report the raw tables' failed checks as warnings: staging quarantines those rows "
                   "(make build uses this; the warehouse's tables keep their errors).")
@click.option("--verbose", "-v", is_flag=True, help="One line per table while checking.")
def quality_command(warehouse_path, raw_dir, out_dir, batch_rows, as_of, tables, no_docs, warn_only,
                    raw_as_warnings, verbose):
    """Validate the raw tables, the marts and the scored tables (Great Expectations)."""
    from retail_lift.quality.runner import run_checkpoint
    from retail_lift.quality.sources import WarehouseLockedError
    from retail_lift.quality.suites import SUITES, suite_for

    suites = None
    if tables:
        unknown = [t for t in tables if suite_for(t) is None]
        if unknown:
            raise click.BadParameter(f"no suite for {', '.join(unknown)}; known: "
                                     f"{', '.join(s.table for s in SUITES)}", param_hint="--table")
        suites = [suite_for(t) for t in tables]
    click.echo(f"checking {raw_dir} and {warehouse_path}")
    try:
        result = run_checkpoint(warehouse_path, raw_dir, out_dir, suites=suites, discover=not tables,
                                batch_rows=batch_rows,
                                as_of=as_of.replace(tzinfo=None) if isinstance(as_of, dt.datetime) else None,
                                build_docs=not no_docs, raw_as_warnings=raw_as_warnings,
                                log=click.echo if verbose else None)
    except WarehouseLockedError as e:
        click.echo(f"retail-lift check: error: {e}", err=True)
        raise SystemExit(2) from None
    click.echo(format_report(result))
    if not result.success and not warn_only:
        raise SystemExit(1)


def format_report(result) -> str:
    """The compact report: a count line, then one line per failed or skipped check and per note."""
    d = result.to_dict()["counts"]
    lines = [f"{d['tables_checked']} tables checked, {d['tables_skipped']} skipped, {d['tables_empty']} empty "
             f"(not checked); {d['expectations']} "
             f"expectations: {d['passed']} passed, {d['errors']} error(s), {d['warnings']} warning(s), "
             f"{d['skipped']} not run ({result.seconds:.1f} s)"]
    for label, items in (("ERROR", result.errors), ("WARNING", result.warnings)):
        lines += [f"  {label:<8}{r.describe()}" for r in items]
    lines += [f"  NOTE    {n}" for n in result.notes]
    lines += [f"  EMPTY   {t.table}: {t.message}" for t in result.tables if t.status == "empty"]
    lines += [f"  NOT RUN {r.describe()}" for r in result.results
              if r.status == "skipped" and r.expectation != "(empty table: not checked)"]
    lines.append(f"summary: {result.summary_path}" + (f"; Data Docs: {result.data_docs_index}"
                                                       if result.data_docs_index else ""))
    lines.append("data quality: " + ("FAILED" if not result.success else "passed"))
    return "\n".join(lines)
