"""The dashboard's data: a read-only snapshot of the warehouse published at the end of the build.

DuckDB lets a writer exclude every reader of another process, so a dashboard that kept the warehouse
open would make the next ``dbt build`` fail. Instead:

* :func:`.snapshot.publish_snapshot` (``retail-lift publish-snapshot``, the ``snapshot`` step of
  ``make build``) opens the warehouse read-only for the few seconds the copy takes and writes the
  tables the dashboard shows as Parquet files into a new folder of ``warehouse/snapshot``, then
  swaps the ``current`` link to it in one atomic rename, so a running dashboard never sees a
  half-written snapshot;
* :mod:`.data` is how the dashboard (``dashboard/app.py``) reads the current snapshot; it never
  touches the warehouse file.

Streamlit is imported only by ``dashboard/app.py``, so this package does not need it.
"""

from __future__ import annotations

__all__ = ["SNAPSHOT_TABLES", "Snapshot", "SnapshotNotFoundError", "open_snapshot", "publish_snapshot"]

_EXPORTS = {"SNAPSHOT_TABLES": "snapshot", "publish_snapshot": "snapshot", "Snapshot": "data",
            "SnapshotNotFoundError": "data", "open_snapshot": "data"}


def __getattr__(name):
    # lazy, so that `retail-lift` (which registers the dashboard commands) starts without pandas
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
