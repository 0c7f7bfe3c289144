"""``retail-lift publish-snapshot`` (the ``snapshot`` step of ``make build``) and ``retail-lift dashboard``.

Register them on the main group: ``main.add_command(publish_snapshot_command)``,
``main.add_command(dashboard_command)``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from retail_lift._click import fail as _fail

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@click.command("publish-snapshot")
@click.option("--warehouse", "warehouse_path", envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True, type=click.Path(path_type=Path),
              help="The DuckDB warehouse file (RETAIL_LIFT_WAREHOUSE); opened read-only for the copy.")
@click.option("--out", "out_dir", envvar="RETAIL_LIFT_SNAPSHOT", default=Path("warehouse/snapshot"),
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Snapshot root (RETAIL_LIFT_SNAPSHOT): a new folder per snapshot and a `current` link.")
@click.option("--run-results", "run_results", default=Path("target/run_results.json"), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="dbt's run_results.json of the build, recorded in the manifest when it exists.")
def publish_snapshot_command(warehouse_path, out_dir, run_results):
    """Publish the dashboard's read-only snapshot of the warehouse (Parquet files and a manifest)."""
    from retail_lift.dashboard.snapshot import SnapshotError, publish_snapshot

    try:
        manifest = publish_snapshot(warehouse_path, out_dir, run_results=run_results, log=click.echo)
    except SnapshotError as e:
        _fail(str(e))
    for name, reason in manifest["missing"].items():
        click.echo(f"  not in the snapshot: {name} ({reason})")
    click.echo(f"warehouse held open {manifest['warehouse_open_seconds']:.2f}s; dashboard: make dashboard")


@click.command("dashboard")
@click.option("--snapshot", "snapshot_root", envvar="RETAIL_LIFT_SNAPSHOT", default=Path("warehouse/snapshot"),
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Snapshot root or folder to show (RETAIL_LIFT_SNAPSHOT).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
def dashboard_command(snapshot_root, port, address):
    """Serve the Streamlit dashboard over the published snapshot (never the warehouse itself)."""
    from retail_lift.dashboard.data import SnapshotNotFoundError, resolve_snapshot_dir

    if not APP_PATH.is_file():
        _fail(f"{APP_PATH} not found: the dashboard runs from a checkout of the project (pip install -e .)")
    try:
        import streamlit  # noqa: F401
    except ImportError as e:
        _fail(f"the dashboard needs streamlit ({e}); install the project's dependencies")
    try:
        resolve_snapshot_dir(snapshot_root)
    except SnapshotNotFoundError as e:
        _fail(str(e))
    env = dict(os.environ, RETAIL_LIFT_SNAPSHOT=str(Path(snapshot_root).resolve()))
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_PATH), "--server.headless", "true",
           "--server.port", str(port), "--server.address", address, "--browser.gatherUsageStats", "false"]
    click.echo(f"dashboard on http://{address}:{port} (snapshot {snapshot_root}); Ctrl-C stops it", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # replace this process with Streamlit, so that Ctrl-C and kill reach the server itself (no orphan left behind)
    os.execve(sys.executable, cmd, env)
