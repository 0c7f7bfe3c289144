"""``retail-lift api`` (serve the decision API with uvicorn) and ``retail-lift ingest-decisions``.

Register them on the main group: ``main.add_command(api_command)``,
``main.add_command(ingest_command)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from retail_lift._click import fail as _fail


@click.command("api")
@click.option("--warehouse", "warehouse_path", envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True, type=click.Path(path_type=Path),
              help="The DuckDB warehouse file (RETAIL_LIFT_WAREHOUSE); read once at startup, read-only.")
@click.option("--log-dir", "log_dir", envvar="RETAIL_LIFT_DECISION_LOG", default=Path("logs/decisions"),
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the decision and outcome logs (JSON lines, one file per UTC day).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--policy-id", default=None,
              help="Serve this version instead of the active one (or of its fallback when the gate kept the logging "
                   "policy).")
@click.option("--shadow", "shadow", default=None, metavar="POLICY",
              help="Score this version beside the served one and log its probabilities in the same record "
                   "(shadow_policy_id, shadow_action_probabilities); never served.")
@click.option("--floor", type=float, default=None,
              help="Exploration floor: every arm gets at least this probability, applied before the draw and "
                   "logged (floor x arms <= 1). Default 0.01.")
@click.option("--seed", type=int, default=None, help="Seed of the arm draws (default: fresh entropy).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="uvicorn's per-request access log (every decision is in the decision log anyway).")
def api_command(warehouse_path, log_dir, host, port, policy_id, shadow, floor, seed, log_level, access_log):
    """Serve the decision API (POST /decide, POST /outcome, GET /healthz; OpenAPI at /docs)."""
    try:
        import uvicorn

        from retail_lift.api.app import create_app
        from retail_lift.bandit.serve import DEFAULT_FLOOR
    except ImportError as e:
        _fail(f"the decision API needs fastapi and uvicorn ({e}); install the project's dependencies")
    if not warehouse_path.exists():
        _fail(f"no warehouse at {warehouse_path}: run the build first (make build), or pass --warehouse")
    try:
        app = create_app(warehouse_path, log_dir, policy_id=policy_id, seed=seed, shadow=shadow,
                         floor=DEFAULT_FLOOR if floor is None else floor)
    except ValueError as e:
        _fail(f"--{e}")  # the message starts with the option's name (floor / shadow)
    state = app.state
    if state.policy is None:
        click.echo(f"retail-lift: warning: serving without a policy (/decide answers 503): {state.policy_error}",
                   err=True)
    else:
        served = f"{state.policy.policy_id} {state.policy.version} ({state.policy.served_as})"
        shadow_note = "" if state.shadow is None else f", shadow {state.shadow.policy_id} {state.shadow.version}"
        click.echo(f"serving {served} on http://{host}:{port}, floor {state.floor}{shadow_note} "
                   f"(decisions logged to {log_dir})", err=True)
        if state.served_reason:
            click.echo(f"retail-lift: {state.served_reason}", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, workers=1, access_log=access_log)


@click.command("ingest-decisions")
@click.option("--data", "data_dir", required=True, envvar="RETAIL_LIFT_DATA",
              type=click.Path(file_okay=False, path_type=Path),
              help="The raw data folder that `retail-lift prepare --data` reads.")
@click.option("--log-dir", "log_dir", envvar="RETAIL_LIFT_DECISION_LOG", default=Path("logs/decisions"),
              show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="The decision API's log folder.")
def ingest_command(data_dir, log_dir):
    """Append the decision API's logged decisions to the raw decisions table (idempotent); run before prepare."""
    import duckdb

    from retail_lift.api.ingest import merge_decision_log

    if not log_dir.is_dir():
        _fail(f"{log_dir}: no such folder (the decision API's --log-dir)")
    try:
        report = merge_decision_log(data_dir, log_dir)
    except (FileNotFoundError, duckdb.Error) as e:
        _fail(str(e))
    click.echo(str(report))
