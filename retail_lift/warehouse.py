"""Safe access to the warehouse file.

DuckDB lets one process write a database file, and a writer excludes every reader in other
processes. So:

* :func:`check_not_locked` runs before ``dbt build`` (``retail-lift check-lock``): when another
  process holds the file it names that process (PID and command line) and says what to do, instead
  of letting dbt fail deep inside a model;
* :func:`read_only` is how every reader (dashboard, API, exports, quality checks) opens the
  warehouse: read-only and for as short a time as the query takes, so that it never blocks a build.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file."""


def _process_command(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def check_not_locked(path: str | Path) -> None:
    """Raise :class:`WarehouseLockedError` naming the holder when ``path`` cannot be opened for writing.

    A missing file is fine (the build creates it).
    """
    path = Path(path)
    if not path.exists():
        return
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" not in msg.lower():
            raise
        m = re.search(r"held in (.+?) \(PID (\d+)\)", msg)
        if m:
            pid = int(m.group(2))
            cmd = _process_command(pid) or m.group(1)
            who = f"process {pid} ({cmd})"
            what = (f"close it (for example stop the dashboard, notebook or shell that has the warehouse open), "
                    f"or end it with `kill {pid}`, then run the build again")
        else:
            who, what = "another process", "close the program that has it open, then run the build again"
        raise WarehouseLockedError(f"the warehouse {path} is held open by {who}; dbt cannot build while another "
                                   f"process holds it: {what}. Readers should open it read-only and briefly "
                                   f"(retail_lift.warehouse.read_only).") from None
    else:
        con.close()


@contextmanager
def read_only(path: str | Path):
    """A short-lived read-only connection: ``with read_only(path) as con: con.execute(...)``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()
