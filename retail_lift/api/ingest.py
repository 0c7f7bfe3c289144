"""Close the loop: append the API's logged decisions to the ``decisions`` table of a raw data folder.

Run it before ``retail-lift prepare`` (on the folder ``prepare --data`` reads) so that the next
``dbt build`` sees the API's decisions in ``fct_decision_ledger``, rewards them from the orders and
trains the next policy version on them::

    merge_decision_log("data/default/raw", "logs/decisions")
    # retail-lift ingest-decisions --data data/default/raw --log-dir logs/decisions

* ``decisions.parquet`` (or no decisions table yet): rewritten as Parquet with the new rows
  appended (written to a temporary file and renamed into place: a reader, or a landed hard link
  made by ``prepare``, never sees a half-written file). The new rows take the types of the existing
  columns (the contract's types for a new file), so a file that ``prepare`` links as is stays that way.
* ``decisions.csv`` / ``.csv.gz`` / ``.tsv``: the new rows are appended as lines (``.csv.gz`` as a new gzip
  member), in the file's column order; values stay text for staging to check.

Idempotent: a ``decision_id`` already in the table (or twice in the log) is added once. Logged
lines that are not JSON (a line cut short by a crash) are skipped and counted.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.adapters.prepare import find_input
from retail_lift.contract import TABLES

from .log import DECISION_COLUMNS, read_decision_log

__all__ = ["MergeReport", "merge_decision_log"]


@dataclass
class MergeReport:
    target: str
    logged: int
    added: int
    already_present: int
    skipped_lines: int

    def __str__(self) -> str:
        return (f"{self.added} decision(s) appended to {self.target} ({self.logged} logged, "
                f"{self.already_present} already present, {self.skipped_lines} unreadable log line(s) skipped)")


def _sql_str(s) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _log_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(DECISION_COLUMNS))
    frame = frame.drop_duplicates("decision_id", keep="first")
    for c in DECISION_COLUMNS:
        if c != "propensity":
            frame[c] = frame[c].astype("string")
    frame["propensity"] = pd.to_numeric(frame["propensity"], errors="coerce").astype("float64")
    return frame.reset_index(drop=True)


def _existing_ids_parquet(con, path: Path) -> set[str]:
    rows = con.execute(f"select distinct cast(decision_id as varchar) from read_parquet({_sql_str(path)}) "
                       f"where decision_id is not null").fetchall()
    return {r[0] for r in rows}


def _merge_parquet(con, path: Path | None, target: Path, new: pd.DataFrame) -> None:
    con.register("new_rows", new)
    table = TABLES["decisions"]
    if path is None:
        cols = ", ".join(f"cast({c.name} as {c.type}) as {c.name}" for c in table.columns)
        sql = f"select {cols} from new_rows"
    else:
        described = con.execute(f"describe select * from read_parquet({_sql_str(path)})").fetchall()
        types = {r[0]: r[1] for r in described}
        selects = []
        for name, typ in types.items():
            src = name.strip().lower()
            value = src if src in DECISION_COLUMNS else "null"
            quoted = '"' + name.replace('"', '""') + '"'
            selects.append(f"cast({value} as {typ}) as {quoted}")
        sql = (f"select * from read_parquet({_sql_str(path)}) union all "
               f"select {', '.join(selects)} from new_rows")
    tmp = target.with_name(target.name + ".merge.tmp")
    con.execute(f"copy ({sql}) to {_sql_str(tmp)} (format parquet, compression zstd)")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _csv_header(path: Path, delim: str) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return next(csv.reader(f, delimiter=delim), [])


def _merge_csv(con, path: Path, new: pd.DataFrame) -> None:
    delim = "\t" if path.suffix == ".tsv" else ","
    header = _csv_header(path, delim)
    norm = [h.strip().lower() for h in header]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delim, quotechar='"', lineterminator="\n")
    for rec in new.to_dict("records"):
        writer.writerow(["" if c not in DECISION_COLUMNS or pd.isna(rec[c]) else
                         (repr(float(rec[c])) if c == "propensity" else str(rec[c])) for c in norm])
    data = buf.getvalue().encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)  # a gzip file may hold several members; readers concatenate them
    else:
        with open(path, "rb") as f:  # make sure the last existing line ends before ours starts
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    data = b"\n" + data
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _existing_ids_csv(con, path: Path) -> set[str]:
    delim = "'\\t'" if path.suffix == ".tsv" else "','"
    rows = con.execute(f"select distinct decision_id from read_csv({_sql_str(path)}, header=true, all_varchar=true, "
                       f"delim={delim}, quote='\"', escape='\"', ignore_errors=true) "
                       f"where decision_id is not null").fetchall()
    return {str(r[0]).strip() for r in rows}


def merge_decision_log(data_dir: str | Path, decision_log_dir: str | Path) -> MergeReport:
    """Append the decisions logged in ``decision_log_dir`` to ``data_dir``'s ``decisions`` table,
    skipping decision ids already present (see the module docstring)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such folder (the raw data folder that `retail-lift prepare` reads)")
    records, skipped = read_decision_log(decision_log_dir)
    new = _log_frame(records)
    existing = find_input(data_dir, "decisions")
    target = existing if existing is not None else data_dir / "decisions.parquet"
    con = duckdb.connect()
    try:
        if existing is None:
            present = set()
        elif existing.suffix == ".parquet":
            present = _existing_ids_parquet(con, existing)
        else:
            present = _existing_ids_csv(con, existing)
        fresh = new.loc[~new["decision_id"].isin(present)].reset_index(drop=True)
        if len(fresh):
            if existing is None or existing.suffix == ".parquet":
                _merge_parquet(con, existing, target, fresh)
            else:
                _merge_csv(con, existing, fresh)
    finally:
        con.close()
    return MergeReport(target=str(target), logged=len(new), added=len(fresh),
                       already_present=len(new) - len(fresh), skipped_lines=skipped)
