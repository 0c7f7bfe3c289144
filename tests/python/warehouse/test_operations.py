"""Operational faults: personal data never reaches a mart, a killed build recovers, builds are repeatable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import duckdb
import pytest
from helpers import DBT, PROJECT_DIR, run_dbt

pytestmark = pytest.mark.dbt

SCHEMAS = ("staging", "intermediate", "marts", "ml")


def _tables(con, schemas=SCHEMAS):
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({', '.join(repr(s) for s in schemas)}) and table_type = 'BASE TABLE' "
        "and table_name not like '%__dbt_tmp%' order by 1, 2").fetchall()


#: the model registry's record of when and why a build trained (wall clock, and in a build killed after a
#: classifier was registered, "scored with champion" instead of "no registered champion"); every other
#: column, model_version and the scores included, must be equal
REGISTRY_BOOKKEEPING = ("trained_at", "registry_action", "registry_reason")


def _fingerprints(db):
    """Order-independent fingerprint of every table; doubles rounded to 9 significant digits so that
    the last bits of parallel floating-point sums do not count as differences (nor the columns of
    :data:`REGISTRY_BOOKKEEPING`)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for schema, table in _tables(con):
            cols = con.execute("select column_name, data_type from information_schema.columns where "
                               "table_schema = ? and table_name = ? order by ordinal_position",
                               [schema, table]).fetchall()
            exprs = []
            for name, typ in cols:
                if name in REGISTRY_BOOKKEEPING:
                    continue
                q = f'"{name}"'
                if typ in ("DOUBLE", "FLOAT", "REAL") or typ.startswith("DECIMAL"):
                    exprs.append(f"cast(round(cast({q} as double) / nullif(pow(10, floor(log10(abs({q})))), 0)"
                                 f", 8) as varchar) || '/' || cast(floor(log10(abs({q}))) as varchar)")
                else:
                    exprs.append(f"cast({q} as varchar)")
            row = " || '|' || ".join(f"coalesce({e}, '∅')" for e in exprs)
            n, h = con.execute(f'select count(*), sum(hash({row})) from "{schema}"."{table}"').fetchall()[0]
            out[f"{schema}.{table}"] = (n, h)
        return out
    finally:
        con.close()


def test_personal_data_never_reaches_a_mart(tiny_world, tiny_warehouse):
    people = duckdb.sql(f"select email, full_name from read_parquet('{tiny_world / 'raw' / 'customers.parquet'}') "
                        "limit 50").fetchall()
    emails = [e for e, _ in people]
    names = [n for _, n in people]
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        for schema, table in _tables(con, ("intermediate", "marts", "ml")) + _tables(con, ("staging",)):
            cols = [c for c, t in con.execute("select column_name, data_type from information_schema.columns "
                                              "where table_schema = ? and table_name = ?",
                                              [schema, table]).fetchall() if t == "VARCHAR"]
            for c in cols:
                hits = con.execute(f'select count(*) from "{schema}"."{table}" where "{c}" like \'%@%\' '
                                   f'or "{c}" in (select unnest(?))', [names]).fetchall()[0][0]
                assert hits == 0, f"{schema}.{table}.{c} holds e-mail addresses or names"
        hashed = con.execute("select count(*) from staging.stg_shop__customers where email_hash = md5(?)",
                             [emails[0].lower()]).fetchall()[0][0]
        assert hashed == 1  # the hash is there, the address is not
    finally:
        con.close()


def test_killed_build_recovers_and_builds_are_repeatable(tiny_warehouse, tmp_path):
    src = tiny_warehouse.parent
    work = tmp_path / "again"
    work.mkdir()
    for name in ("raw", "truth"):
        shutil.copytree(src / name, work / name)
    # a first build in a fresh file, killed midway
    env = dict(os.environ, RETAIL_LIFT_RAW=str(work / "raw"), RETAIL_LIFT_TRUTH=str(work / "truth"),
               RETAIL_LIFT_WAREHOUSE=str(work / "warehouse.duckdb"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [DBT, "--no-use-colors", "build", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    started = 0
    deadline = time.time() + 120
    for line in proc.stdout:
        started += " OK created " in line
        if started >= 40 or time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert started >= 40, "the build finished before it could be killed"
    # the next build recovers ...
    run_dbt(["build"], work / "raw", work / "truth", work)
    # ... and gives the same tables as the undisturbed build of the same data
    expected, got = _fingerprints(tiny_warehouse), _fingerprints(work / "warehouse.duckdb")
    assert set(got) == set(expected)
    different = sorted(t for t in expected if expected[t] != got[t])
    assert not different, f"tables differ between two builds of the same data: {different}"
