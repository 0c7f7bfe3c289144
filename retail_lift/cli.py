"""The ``retail-lift`` command line.

    retail-lift generate --preset tiny|default|large --seed N --out DIR
    retail-lift prepare --data DIR [--truth DIR] --out DIR [--delimiter ';'] [--decimal ',']
    retail-lift load-retailrocket events.csv --out DIR
    retail-lift load-ga4 | load-snowplow | load-segment --input FILE|FOLDER|GLOB --out DIR
    retail-lift fingerprint --warehouse FILE [--out FILE.json] [--compare FILE.json]
    retail-lift train [--warehouse FILE] [--model NAME ...] [--challenger]
    retail-lift docs-tables [--check]
    retail-lift contract-metadata [--check]

Errors in the input end with exit code 2 and one message naming the file and the column, never a
stack trace.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from retail_lift.world.presets import PRESETS


class _Group(click.Group):
    def invoke(self, ctx):
        from retail_lift.adapters.prepare import RawDataError
        from retail_lift.warehouse import WarehouseLockedError
        try:
            return super().invoke(ctx)
        except RawDataError as e:
            click.echo(f"retail-lift: error: {e}", err=True)
            sys.exit(2)
        except WarehouseLockedError as e:
            click.echo(f"retail-lift: error: {e}", err=True)
            sys.exit(3)


@click.group(cls=_Group)
@click.version_option(package_name="retail-lift")
def main():
    """Retail Lift: which customer gets which promotion, and proof that it pays."""


@main.command()
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="default", show_default=True,
              help="Size of the world: tiny (~1k customers), default (~50k), large (~1M).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, identical files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default data/<preset>); raw tables go to OUT/raw, ground truth to OUT/truth.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=250_000, show_default=True,
              help="Rows turned into text at a time when a table is written (memory); the files are "
                   "byte-identical for every value.")
def generate(preset, seed, out, quiet, chunk_rows):
    """Generate the simulated retail world with its ground truth."""
    from retail_lift.world import generate_world
    out = out or Path("data") / preset
    summary = generate_world(preset, seed, out, progress=not quiet, chunk_rows=chunk_rows)
    s = summary["stats"]
    click.echo(f"wrote {out}/raw and {out}/truth: {s['customers']:,} customers, {s['events']:,} events, "
               f"{s['orders']:,} orders, {s['decisions']:,} decisions, "
               f"{s['experiment_assignments']:,} experiment assignments")


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Folder with one Parquet or CSV file per raw table (events and/or orders at least).")
@click.option("--truth", "truth_dir", default=None, type=click.Path(path_type=Path),
              help="Folder of the simulated world's truth tables (omit for real data).")
@click.option("--out", "out_dir", default=Path("warehouse/raw"), show_default=True, type=click.Path(path_type=Path),
              help="Landing folder the dbt sources read (RETAIL_LIFT_RAW).")
@click.option("--truth-out", default=None, type=click.Path(path_type=Path),
              help="Where the truth tables are landed (RETAIL_LIFT_TRUTH; default: OUT/../truth).")
@click.option("--delimiter", default=None,
              help="CSV delimiter, e.g. ';', '|' or '\\t' (default: ',' and tab for .tsv files).")
@click.option("--decimal", default=".", show_default=True, type=click.Choice([".", ","]),
              help="Decimal separator of the CSV numbers: with ',', 12,50 is read as 12.50.")
def prepare(data_dir, truth_dir, out_dir, truth_out, delimiter, decimal):
    """Check a folder of raw tables against the data contract and land it for dbt."""
    from retail_lift.adapters import prepare_raw
    click.echo(f"preparing {data_dir} -> {out_dir}")
    prepare_raw(data_dir, out_dir, truth_dir=truth_dir, truth_out=truth_out, log=click.echo,
                delimiter=delimiter, decimal=decimal)


@main.command("load-retailrocket")
@click.argument("events_csv", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder to write the contract's tables to (then: make build DATA=OUT).")
def load_retailrocket(events_csv, out_dir):
    """Convert a RetailRocket events.csv (and category_tree.csv, item_properties*.csv beside it)."""
    from retail_lift.adapters import convert_retailrocket
    convert_retailrocket(events_csv, out_dir, log=click.echo)


def _export_loader(name: str, source: str, func: str):
    @main.command(name, help=f"Convert a {source} export (Parquet or NDJSON) into a raw-data contract folder.")
    @click.option("--input", "inputs", required=True, multiple=True,
                  help=f"{source} export: a Parquet or newline-delimited JSON file, a folder of them or a glob "
                       f"(quoted); repeat for several.")
    @click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
                  help="Folder to write the contract's tables to (then: make build DATA=OUT).")
    def command(inputs, out_dir):
        import importlib
        loader = getattr(importlib.import_module("retail_lift.adapters"), func)
        loader(list(inputs), out_dir, log=click.echo)
        click.echo(f"wrote {out_dir}; next: retail-lift prepare --data {out_dir} (or make build DATA={out_dir})")

    return command


_export_loader("load-ga4", "GA4 BigQuery", "load_ga4")
_export_loader("load-snowplow", "Snowplow atomic events", "load_snowplow")
_export_loader("load-segment", "Segment track/page", "load_segment")


@main.command("check-lock")
@click.argument("warehouse", type=click.Path(path_type=Path))
def check_lock(warehouse):
    """Fail with the holder's PID and command when another process has the warehouse file open."""
    from retail_lift.warehouse import check_not_locked
    check_not_locked(warehouse)
    click.echo(f"{warehouse}: not held by another process")


def export_campaign_targets(warehouse, out, *, table: str = "ml.ml_campaign_target_list") -> Path:
    """Write the selected customers of the campaign target list to a CSV file (read-only, short connection).

    ``retail-lift export-targets --out PATH`` calls this (``make export-targets``); columns and order as
    :func:`~retail_lift.campaign.export_target_list`. It lives with the command line, not in the campaign
    family: it reads the built warehouse (a dbt table by name), which the families, algorithms only, never do.
    """
    from retail_lift.campaign import export_target_list
    from retail_lift.warehouse import read_only

    with read_only(warehouse) as con:
        df = con.execute(f"select * from {table} where status = 'selected' order by rank").df()
    return export_target_list(df.drop(columns=["status"]), out)


@main.command("export-targets")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write (selected customers, sorted by rank).")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True)
def export_targets(out_path, warehouse):
    """Export the campaign target list (ml_campaign_target_list) as CSV."""
    result = export_campaign_targets(warehouse, out_path)
    click.echo(f"wrote {out_path}" + (f" ({result} rows)" if isinstance(result, int) else ""))


def export_promotion_plan(warehouse, out_dir, *, table: str = "ml.ml_promotion_plan") -> list[Path]:
    """Write the promotion plan as one CSV per channel (``<out_dir>/<channel>.csv``: the customers with a
    promotion, held-out ones flagged, with the reasons; :func:`~retail_lift.campaign.plan.export_plan`), from the
    built warehouse (read-only, short connection). ``retail-lift export-plan`` calls this (``make export-plan``)."""
    from retail_lift.campaign.plan import export_plan
    from retail_lift.warehouse import read_only

    with read_only(warehouse) as con:
        df = con.execute(f"select * from {table}").df()
    return export_plan(df, out_dir)


@main.command("export-plan")
@click.option("--out", "out_dir", default=Path("reports/plan"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder of the CSV files, one per channel.")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True)
def export_plan_command(out_dir, warehouse):
    """Export the promotion plan (ml_promotion_plan) as one CSV per channel, with reasons and the holdout flag."""
    for path in export_promotion_plan(warehouse, out_dir):
        click.echo(f"wrote {path}")


@main.command("trust-harness")
@click.option("--n", "n_experiments", type=int, default=None,
              help="Simulated experiments per scenario [default: 1000; --quick: 200].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True,
              help="The reduced run of the test suite (3 scenarios: A/A, power on 3-arm revenue, a mismatch).")
@click.option("--jobs", type=click.IntRange(1, 2), default=2, show_default=True, help="Worker processes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/experiments"), show_default=True)
@click.option("--docs", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as a dbt docs block (e.g. docs/experiments/_trust_harness.md).")
def trust_harness(n_experiments, seed, quick, jobs, out_dir, docs):
    """Prove the experiment decisions end to end: simulated daily looks through decide_experiments and
    analyze_experiments (false ship, false do not ship, power, coverage, SRM detection)."""
    from retail_lift.experiments.harness import FULL_SCENARIOS, QUICK_SCENARIOS, run_trust_harness, write_harness_report
    n = n_experiments or (200 if quick else 1000)
    scenarios = QUICK_SCENARIOS if quick else FULL_SCENARIOS

    def progress(done, total):
        click.echo(f"  {done}/{total} scenarios", err=True)

    results = run_trust_harness(n_experiments=n, seed=seed, scenarios=scenarios, jobs=jobs, progress=progress)
    js, md = write_harness_report(results, out_dir / "trust_harness.json", out_dir / "trust_harness.md")
    _emit_harness_report(results, js, md, docs, "trust_harness", "trust harness")


def _emit_harness_report(results: dict, js: Path, md: Path, docs: Path | None, block: str, label: str) -> None:
    """Print a harness's Markdown report, write it as a dbt docs block, and fail when a check failed."""
    from retail_lift.montecarlo import write_docs_block
    click.echo(md.read_text())
    click.echo(f"wrote {js} and {md}")
    if docs is not None:
        write_docs_block(md.read_text(), block, docs)
        click.echo(f"wrote the dbt docs block '{block}' to {docs}")
    if not results["all_checks_passed"]:
        failed = [k for k, ok in results["checks"].items() if not ok]
        raise click.ClickException(f"{label} checks failed: {', '.join(failed)}")


@main.command("gate-harness")
@click.option("--n", "n_sims", type=int, default=None,
              help="Simulated decision logs per logging support and holdout size [default: 200; --quick: 40].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True,
              help="The reduced run of the test suite (2,000-decision holdouts only, no power-curve sizes).")
@click.option("--jobs", type=click.IntRange(1, 2), default=2, show_default=True, help="Worker processes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/bandit"), show_default=True)
@click.option("--docs", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as a dbt docs block (e.g. docs/bandit/_gate_harness.md).")
def gate_harness(n_sims, seed, quick, jobs, out_dir, docs):
    """Prove the off-policy gate with simulated logs of known truth: false ships and power."""
    from retail_lift.bandit.gate_harness import FULL, QUICK, run_gate_harness, write_gate_harness_report
    settings = dict(QUICK if quick else FULL)
    if n_sims is not None:
        settings["n_sims"] = n_sims
    step = max(1, settings["n_sims"] // 4)

    def progress(done, total):
        if done % step == 0 or done == total:
            click.echo(f"gate harness: {done:,} / {total:,} simulated logs", err=True)

    results = run_gate_harness(**settings, seed=seed, jobs=jobs, progress=progress)
    js, md = write_gate_harness_report(results, out_dir / "gate_harness.json", out_dir / "gate_harness.md")
    _emit_harness_report(results, js, md, docs, "bandit_gate_harness", "gate harness")


@main.command()
@click.option("--warehouse", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="The DuckDB file to fingerprint (opened read-only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the fingerprint here (JSON).")
@click.option("--compare", "compare_to", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A committed fingerprint: list every table and column that differs; exit 1 if any.")
@click.option("--float-digits", type=int, default=11, show_default=True,
              help="Decimals of the normalised sums that summarise a floating-point column.")
def fingerprint(warehouse, out, compare_to, float_digits):
    """Row count and order-independent checksums of every table of a warehouse."""
    import json

    from retail_lift.fingerprint import compare_fingerprints, warehouse_fingerprint, write_fingerprint
    from retail_lift.warehouse import check_not_locked
    check_not_locked(warehouse)
    fp = warehouse_fingerprint(warehouse, float_digits=float_digits)
    if out is not None:
        write_fingerprint(fp, out)
        click.echo(f"{len(fp['tables'])} tables -> {out}")
    if compare_to is not None:
        diffs = compare_fingerprints(json.loads(Path(compare_to).read_text()), fp)
        for line in diffs:
            click.echo(line)
        click.echo(f"{len(diffs)} difference(s) against {compare_to}")
        if diffs:
            sys.exit(1)


@main.command()
@click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path), envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True,
              help="The DuckDB warehouse (built by make build); its registry is the folder models/ beside it.")
@click.option("--model", "models", multiple=True, help="A model to train (repeat; default: every registered model).")
@click.option("--challenger", is_flag=True,
              help="Register the new versions as challenger (the champion keeps scoring until promoted).")
@click.option("--project-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path("."),
              show_default=True, help="The dbt project.")
def train(warehouse, models, challenger, project_dir):
    """Train and register new versions of the models that train (classifiers, uplift run, CLV, segments,
    cross-sell rules, the bandit candidates and their off-policy evaluation), without the rest of the build.

    Runs only those models (dbt run --select them --vars '{retrain: true}') on the marts of an existing
    warehouse; the new versions become champion, and the next build scores with them."""
    import os
    import subprocess

    from retail_lift.registry import ModelRegistry
    from retail_lift.tables import REGISTERED_MODELS

    unknown = sorted(set(models) - set(REGISTERED_MODELS))
    if unknown:
        raise click.BadParameter(f"{unknown} do not train; registered models: {list(REGISTERED_MODELS)}",
                                 param_hint="--model")
    if not warehouse.is_file():
        raise click.ClickException(f"no warehouse at {warehouse}: run make build first (train reads its marts)")
    selected = list(models) or list(REGISTERED_MODELS)
    dbt = Path(sys.executable).with_name("dbt")
    project = project_dir.resolve()
    variables = "{retrain: true, registry_alias: challenger}" if challenger else "{retrain: true}"
    cmd = [str(dbt), "--no-use-colors", "run", "--select", *selected, "--vars", variables,
           "--project-dir", str(project), "--profiles-dir", str(project)]
    env = {**os.environ, "RETAIL_LIFT_WAREHOUSE": str(warehouse.resolve())}
    click.echo(" ".join(cmd))
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise click.ClickException(f"dbt run of {selected} failed (exit {proc.returncode})")
    registry = ModelRegistry.beside(warehouse)
    for name in selected:
        aliases = registry.aliases(name)
        click.echo(f"{name}: champion version {aliases['champion']}, challenger {aliases['challenger']} "
                   f"({registry.root / name})")


@main.command("docs-tables")
@click.option("--docs", "docs_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path("docs"),
              show_default=True, help="The docs folder whose generated blocks are rewritten.")
@click.option("--check", is_flag=True, help="Only report stale blocks; exit 1 if any.")
def docs_tables(docs_dir, check):
    """Rewrite the docs pages' generated result tables from bench/results."""
    from retail_lift.reports.docs_tables import render_docs
    try:
        changed = render_docs(docs_dir, docs_dir.resolve().parent, check=check)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise click.ClickException(f"docs-tables: {e}") from e
    for page in changed:
        click.echo(f"{'stale' if check else 'rewritten'}: {page}")
    if check and changed:
        sys.exit(1)


@main.command("contract-metadata")
@click.option("--check", is_flag=True, help="Only report files out of date with the contract; exit 1 if any.")
def contract_metadata(check):
    """Write the dbt sources, doc blocks, domain macro and quarantine model from retail_lift/contract.py."""
    from retail_lift.contract_metadata import ROOT, write_metadata
    try:
        changed = write_metadata(ROOT, check=check)
    except (ValueError, KeyError) as e:
        raise click.ClickException(f"contract-metadata: {e}") from e
    for path in changed:
        click.echo(f"{'stale' if check else 'written'}: {path.relative_to(ROOT)}")
    if not changed:
        click.echo("contract-metadata: every generated file matches retail_lift/contract.py")
    if check and changed:
        sys.exit(1)


def _register_commands():
    from retail_lift.api.cli import api_command, ingest_command
    from retail_lift.bandit.cli import decide_command
    from retail_lift.dashboard.cli import dashboard_command, publish_snapshot_command
    from retail_lift.evaluation.cli import check_truth_command, simulate_command
    from retail_lift.quality.cli import quality_command
    from retail_lift.reports.cli import docs_assets_command
    from retail_lift.spark.cli import score_command
    main.add_command(quality_command)
    main.add_command(docs_assets_command)
    main.add_command(simulate_command)
    main.add_command(check_truth_command)
    main.add_command(decide_command)
    main.add_command(api_command)
    main.add_command(ingest_command)
    main.add_command(publish_snapshot_command)
    main.add_command(dashboard_command)
    main.add_command(score_command)


_register_commands()

if __name__ == "__main__":
    main()
