"""Reading the tables to check: short-lived DuckDB connections and batches of rows.

Every read opens its own in-memory DuckDB connection, attaches the warehouse file read-only (an
open connection in another process blocks ``dbt build``), runs one query and closes the
connection. The landed raw tables are read from their Parquet files in the same connection, so a
rule can join a mart with a raw table.

Large tables are validated in batches: ``plan_batches`` counts the rows per day of the table's
time column and packs consecutive days into batches of at most ``max_rows`` rows (one day larger
than that is one batch); a table without a time column is cut into LIMIT/OFFSET slices. Each batch
is fetched with its own connection, validated and dropped, so memory stays flat whatever the size
of the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.quality.checks import TYPE_FAMILIES, normalize_type

WAREHOUSE_ALIAS = "rl_quality_wh"
UNPARSEABLE_SUFFIX = "__unparseable"


def _lit(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


class WarehouseLockedError(RuntimeError):
    """The warehouse file could not be opened read-only (another process holds it for writing)."""


class DataStore:
    """The raw folder (``raw.<table>`` = ``<raw_dir>/<table>.parquet``) and the warehouse file
    (``<schema>.<table>``), read through short-lived DuckDB connections."""

    def __init__(self, warehouse_path: str | Path | None, raw_dir: str | Path | None):
        self.warehouse_path = Path(warehouse_path) if warehouse_path else None
        self.raw_dir = Path(raw_dir) if raw_dir else None
        self._session: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Share one connection between the reads inside the block (a few quick queries in a row);
        it is closed when the block ends."""
        with self.connect() as con:
            self._session = con
            try:
                yield
            finally:
                self._session = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._session is not None:
            yield self._session
            return
        con = duckdb.connect()
        try:
            if self.warehouse_path is not None and self.warehouse_path.exists():
                try:
                    con.execute(f"attach {_lit(self.warehouse_path)} as {WAREHOUSE_ALIAS} (read_only)")
                except duckdb.IOException as e:
                    raise WarehouseLockedError(
                        f"cannot open {self.warehouse_path} read-only: {str(e).splitlines()[0]} "
                        "(is dbt still writing to it?)") from None
            yield con
        finally:
            con.close()

    def catalog(self) -> dict[str, dict[str, str]]:
        """Every readable table with its columns and DuckDB types: ``{"raw.orders": {"amount": "DOUBLE"}}``."""
        tables: dict[str, dict[str, str]] = {}
        with self.connect() as con:
            if self.raw_dir is not None and self.raw_dir.is_dir():
                for path in sorted(self.raw_dir.glob("*.parquet")):
                    if path.name.startswith("_"):
                        continue  # _load_report, _rejected_lines: bookkeeping of `prepare`
                    rows = con.execute(f"describe select * from read_parquet({_lit(path)})").fetchall()
                    tables[f"raw.{path.stem}"] = {r[0]: r[1] for r in rows}
            if self.warehouse_path is not None and self.warehouse_path.exists():
                rows = con.execute(
                    "select table_schema, table_name, column_name, data_type from information_schema.columns "
                    f"where table_catalog = {_lit(WAREHOUSE_ALIAS)} order by table_schema, table_name, ordinal_position"
                ).fetchall()
                for schema, table, column, dtype in rows:
                    tables.setdefault(f"{schema}.{table}", {})[column] = dtype
        return tables

    def base_relation(self, table: str) -> str:
        schema, name = table.split(".", 1)
        if schema == "raw":
            if self.raw_dir is None:
                raise ValueError(f"{table}: no raw folder given")
            return f"read_parquet({_lit(self.raw_dir / f'{name}.parquet')})"
        return f"{WAREHOUSE_ALIAS}.{_q(schema)}.{_q(name)}"

    def source(self, table: str, actual: Mapping[str, str], declared: Mapping[str, str] | None = None,
               cast_to_declared: bool = False) -> TableSource:
        return TableSource(self, table, dict(actual), dict(declared or {}), cast_to_declared)


@dataclass(frozen=True)
class Batch:
    label: str
    where: str | None = None
    limit: int | None = None
    offset: int | None = None


class TableSource:
    """One table: its typed relation (for whole-table rules) and its batches of rows.

    With ``cast_to_declared`` (the raw tables: the landing step keeps a column as text when its
    values do not all parse, so that staging can quarantine them) a column whose landed type differs
    from the contract's is read with ``try_cast``, and a column ``<name>__unparseable`` holds the
    original text of each value that does not parse.
    """

    def __init__(self, store: DataStore, table: str, actual: dict[str, str], declared: dict[str, str],
                 cast_to_declared: bool):
        self.store, self.table, self.actual = store, table, actual
        self.cast_columns: dict[str, str] = {}
        if cast_to_declared:
            for col, want in declared.items():
                if col in actual and want not in TYPE_FAMILIES and normalize_type(actual[col]) != normalize_type(want):
                    self.cast_columns[col] = want

    @property
    def unparseable_columns(self) -> list[str]:
        return [c + UNPARSEABLE_SUFFIX for c in self.cast_columns]

    @property
    def columns(self) -> list[str]:
        return list(self.actual) + self.unparseable_columns

    def relation(self, with_unparseable: bool = False) -> str:
        base = self.store.base_relation(self.table)
        if not self.cast_columns:
            return base
        cols = [f"try_cast({_q(c)} as {self.cast_columns[c]}) as {_q(c)}" if c in self.cast_columns else _q(c)
                for c in self.actual]
        if with_unparseable:
            cols += [f"case when {_q(c)} is not null and try_cast({_q(c)} as {t}) is null "
                     f"then cast({_q(c)} as varchar) end as {_q(c + UNPARSEABLE_SUFFIX)}"
                     for c, t in self.cast_columns.items()]
        return f"(select {', '.join(cols)} from {base})"

    def row_count(self) -> int:
        with self.store.connect() as con:
            return con.execute(f"select count(*) from {self.relation()}").fetchone()[0]

    def plan_batches(self, total_rows: int, batch_by: str | None, max_rows: int) -> list[Batch]:
        if total_rows <= max_rows:
            return [Batch("all rows")]
        if batch_by is None or batch_by not in self.actual:
            return [Batch(f"rows {o + 1:,}-{min(o + max_rows, total_rows):,}", limit=max_rows, offset=o)
                    for o in range(0, total_rows, max_rows)]
        day = f"cast({_q(batch_by)} as date)"
        with self.store.connect() as con:
            counts = con.execute(f"select {day} as d, count(*) from {self.relation()} group by 1 order by 1 nulls last"
                                 ).fetchall()
        batches, start, end, n = [], None, None, 0
        for d, c in counts:
            if d is None:
                continue
            if start is not None and n + c > max_rows:
                batches.append(_day_batch(batch_by, start, end))
                start, n = None, 0
            start = d if start is None else start
            end, n = d, n + c
        if start is not None:
            batches.append(_day_batch(batch_by, start, end))
        if any(d is None for d, _ in counts):
            batches.append(Batch(f"{batch_by} missing", where=f"{_q(batch_by)} is null"))
        return batches

    def fetch(self, batch: Batch, columns: list[str] | None = None) -> pd.DataFrame:
        cols = ", ".join(_q(c) for c in columns) if columns else "*"
        sql = f"select {cols} from {self.relation(with_unparseable=True)}"
        if batch.where:
            sql += f" where {batch.where}"
        if batch.limit is not None:
            sql += f" limit {batch.limit} offset {batch.offset or 0}"
        with self.store.connect() as con:
            return vectorizable(con.execute(sql).df())

    def query(self, sql: str, other: TableSource | None = None, limit: int | None = None) -> tuple[pd.DataFrame, int]:
        """Run a whole-table rule (``{table}``, ``{other}``): the frame (at most ``limit`` rows) and its
        full row count."""
        sql = sql.replace("{table}", self.relation())
        if other is not None:
            sql = sql.replace("{other}", other.relation())
        with self.store.connect() as con:
            if limit is None:
                df = con.execute(sql).df()
                return df, len(df)
            df = con.execute(f"select * from ({sql}) limit {limit}").df()
            total = len(df) if len(df) < limit else con.execute(f"select count(*) from ({sql})").fetchone()[0]
            return df, total


def vectorizable(df: pd.DataFrame) -> pd.DataFrame:
    """Column dtypes on which GX's pandas checks take their vectorised path: naive UTC timestamps in
    nanoseconds (DuckDB returns microseconds; a value beyond the nanosecond range keeps the column
    as it is, which is slower but still correct) and integers as int64 (float64 when nullable)."""
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):  # compared with naive bounds: UTC without a zone
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
            dtype = df[col].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            if dtype != "datetime64[ns]":
                try:
                    df[col] = df[col].astype("datetime64[ns]")
                except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
                    pass
        elif pd.api.types.is_integer_dtype(dtype) and dtype != "int64":
            df[col] = df[col].astype("float64" if isinstance(dtype, pd.api.extensions.ExtensionDtype) else "int64")
    return df


def _day_batch(column: str, start: dt.date, end: dt.date) -> Batch:
    label = f"{column} {start}" if start == end else f"{column} {start}..{end}"
    return Batch(label, where=f"cast({_q(column)} as date) between date {_lit(start)} and date {_lit(end)}")
