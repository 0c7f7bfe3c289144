"""Helpers for tests that run dbt: each build gets its own warehouse file, target and log folders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.adapters import prepare_raw

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))


def run_dbt(args: list[str], raw_dir: Path, truth_dir: Path, workdir: Path, check: bool = True,
            extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run dbt against the project with its own warehouse file, target and log folders under workdir."""
    env = dict(os.environ)
    env.update({
        "RETAIL_LIFT_RAW": str(raw_dir),
        "RETAIL_LIFT_TRUTH": str(truth_dir),
        "RETAIL_LIFT_WAREHOUSE": str(workdir / "warehouse.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    env.update(extra_env or {})
    cmd = [DBT, "--no-use-colors", *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
           "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        lines = proc.stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if "Completed with" in line or "Encountered an error" in line),
                     max(len(lines) - 60, 0))
        tail = "\n".join(lines[start:start + 80])
        raise AssertionError(f"dbt {' '.join(args)} failed ({proc.returncode}):\n{tail}\n{proc.stderr[-3000:]}")
    return proc


def build_folder(data_dir: Path, workdir: Path, truth_dir: Path | None = None) -> Path:
    """prepare + dbt build of a raw folder; returns the warehouse path."""
    workdir.mkdir(parents=True, exist_ok=True)
    raw, truth = workdir / "raw", workdir / "truth"
    prepare_raw(data_dir, raw, truth_dir=truth_dir, truth_out=truth, log=lambda *_: None)
    run_dbt(["build"], raw, truth, workdir)
    return workdir / "warehouse.duckdb"


def write_first_load(world: Path, folder: Path, late_registrations: bool = True) -> None:
    """The raw tables of a world as they were loaded 10 days before its end, for incremental-build tests.

    Events up to 10 days before the last one, except those of the day before that cutoff for every 5th visitor
    (they arrive late, with the rest of the log); with late_registrations, one customer in 7 is not registered
    yet (their earlier sessions gain a customer_id later). The other raw tables are copied as they are.
    """
    folder.mkdir(parents=True)
    for f in (world / "raw").glob("*.parquet"):
        shutil.copy(f, folder / f.name)
    events, customers = world / "raw" / "events.parquet", world / "raw" / "customers.parquet"
    with duckdb.connect() as con:
        end = con.execute(f"select max(event_at) from read_parquet('{events}')").fetchall()[0][0]
        cutoff, late = f"timestamp '{end}' - interval 10 day", f"timestamp '{end}' - interval 11 day"
        con.execute(f"copy (select * from read_parquet('{events}') where event_at < {cutoff} "
                    f"and not (event_at >= {late} and hash(visitor_id) % 5 = 0)) "
                    f"to '{folder / 'events.parquet'}' (format parquet)")
        if late_registrations:
            con.execute(f"copy (select * from read_parquet('{customers}') where hash(customer_id) % 7 <> 0) "
                        f"to '{folder / 'customers.parquet'}' (format parquet)")


@contextmanager
def warehouse_held_by_another_process(db: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Another Python process holding a read-write DuckDB connection to db (as a running build would)."""
    ready = tmp_path / f"{db.name}.held"
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb, pathlib, time; c = duckdb.connect({str(db)!r}); "
                               f"pathlib.Path({str(ready)!r}).touch(); time.sleep(30)"])
    try:
        for _ in range(100):
            if ready.exists():
                break
            time.sleep(0.1)
        yield holder
    finally:
        holder.kill()
        holder.wait()


def run_singular_test(sql_path: Path, tables: dict) -> pd.DataFrame:
    """The rows a dbt singular test returns on frames: its SQL rendered (the config line dropped, each
    ``{{ ref('x') }}`` replaced by the frame ``tables['x']``) and run in DuckDB. The test asserts it warns."""
    sql = Path(sql_path).read_text()
    assert "config(severity='warn')" in sql
    sql = re.sub(r"\{\{\s*config\([^}]*\)\s*\}\}", "", sql)
    sql = re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", r"\1_table", sql)
    with duckdb.connect() as con:
        for name, frame in tables.items():
            con.register(f"{name}_table", frame)
        return con.sql(sql).df()
