"""``retail-lift score --target spark``. Register it on the main group: ``main.add_command(score_command)``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("score")
@click.option("--target", default="spark", show_default=True,
              help="dbt target of the Spark warehouse (profiles.yml); dbt builds the Python models on DuckDB itself.")
@click.option("--project-dir", default=Path("."), show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--profiles-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of profiles.yml (default: the project folder).")
@click.option("--target-path", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="dbt's target folder (default: the project's).")
@click.option("--log-path", default=None, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-test", is_flag=True, help="Skip the dbt data tests of the scored tables.")
@click.option("--select", "select", multiple=True,
              help="Only this model and the models built on it (repeatable), e.g. to resume after a failure.")
def score_command(target, project_dir, profiles_dir, target_path, log_path, no_test, select):
    """Run the dbt Python models (and the SQL models on them) against a Spark warehouse.

    Run after `dbt build --target spark --selector spark_sql`: reads the marts from Spark through Arrow,
    calls the same retail_lift functions as the dbt Python models, writes the scored tables back to Spark.
    """
    # OpenMP threads that spin while waiting slow xgboost down several times next to Spark's JVM (as in the Makefile)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from retail_lift.spark.score import SparkScoreError, run_score
    except ImportError as e:  # pyspark or dbt-spark missing
        click.echo(f"retail-lift: error: {e}; install the spark extra: pip install -e '.[spark]'", err=True)
        sys.exit(2)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        click.echo("retail-lift: error: pyspark is not installed; pip install -e '.[spark]'", err=True)
        sys.exit(2)
    try:
        run = run_score(project_dir, profiles_dir or project_dir, target=target, target_path=target_path,
                        log_path=log_path, test=not no_test, log=click.echo, select=select)
    except SparkScoreError as e:
        click.echo(f"retail-lift: error: {e}", err=True)
        sys.exit(1)
    click.echo(f"retail-lift score: {len(run.python_models)} Python models scored on Spark target {target}")
