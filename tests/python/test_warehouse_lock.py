"""A warehouse held by another process gives a message naming the process and what to do."""


import duckdb
import pytest
from click.testing import CliRunner
from helpers import warehouse_held_by_another_process

from retail_lift.cli import main
from retail_lift.warehouse import WarehouseLockedError, check_not_locked, read_only


def test_lock_held_by_another_process_is_named(tmp_path):
    db = tmp_path / "wh.duckdb"
    duckdb.connect(str(db)).close()
    with warehouse_held_by_another_process(db, tmp_path) as holder:
        with pytest.raises(WarehouseLockedError) as e:
            check_not_locked(db)
        msg = str(e.value)
        assert f"process {holder.pid}" in msg and "python" in msg and f"kill {holder.pid}" in msg
        result = CliRunner().invoke(main, ["check-lock", str(db)])
        assert result.exit_code == 3 and str(holder.pid) in result.output and "Traceback" not in result.output
    check_not_locked(db)  # free again


def test_read_only_reader_closes_its_connection(tmp_path):
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table t as select 1 as x")
    con.close()
    with read_only(db) as ro:
        assert ro.execute("select x from t").fetchall() == [(1,)]
    check_not_locked(db)
    duckdb.connect(str(db)).close()  # a writer can open it right after
