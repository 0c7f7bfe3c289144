"""Shared machinery of the loaders for analytics exports (GA4, Snowplow, Segment).

Each loader reads Parquet or newline-delimited JSON (a file, a folder or a glob of files) with DuckDB and
writes a bring-your-own folder in the raw-data contract (``events.parquet`` and, where the export allows,
``orders``, ``order_lines``, ``customers``, ``products``), which ``retail-lift prepare`` then lands.

* JSON is read with an explicit schema (``read_json(columns=...)``): only the fields a loader uses are read,
  nested objects as STRUCTs and arrays as lists; a field that is absent is NULL. Leaf values are read as text
  so that a malformed value never stops the load: staging casts it and quarantines the row with the
  original value.
* Parquet is read with ``union_by_name``; every field path is bound against the file schema first, and a
  path that the files do not have reads as NULL.
* A required field that is absent (or NULL in every row) of a file is an error naming the file and the field.
* Times are written as UTC text ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (the connection's TimeZone is UTC); a value
  that does not parse is kept as it was, so that staging quarantines it as unparseable.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from retail_lift.adapters.prepare import RawDataError, _sql_str, connect_utc
from retail_lift.contract import PRODUCT_ROLES, event_roles

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)


@dataclass
class LoadReport:
    """What a loader wrote: rows per table, and notes (conversions, rows that staging will quarantine)."""
    source: str
    files: list[str]
    tables: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.source}: {len(self.files)} file(s)"]
        out += [f"  {name:<12} {n:>10,} rows" for name, n in self.tables.items()]
        out += [f"  note: {n}" for n in self.notes]
        return out


def _is(path: Path, suffixes) -> bool:
    return path.name.lower().endswith(suffixes)


def resolve_files(inputs, source: str) -> tuple[list[Path], str]:
    """The files named by ``inputs`` (files, folders or glob patterns) and their format (parquet or json)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and _is(f, JSON_SUFFIXES + PARQUET_SUFFIXES))
            if not found:
                raise RawDataError(f"{p}: no Parquet or JSON files in this folder (expected *.parquet, *.json, "
                                   f"*.jsonl or *.ndjson of a {source} export)")
            files += found
        elif p.is_file():
            files.append(p)
        elif any(ch in str(item) for ch in "*?["):
            found = sorted(Path(f) for f in glob.glob(str(item)) if Path(f).is_file())
            if not found:
                raise RawDataError(f"{item}: the pattern matches no file")
            files += found
        else:
            raise RawDataError(f"{p}: no such file or folder")
    kinds = set()
    for f in files:
        if _is(f, PARQUET_SUFFIXES):
            kinds.add("parquet")
        elif _is(f, JSON_SUFFIXES):
            kinds.add("json")
        else:
            raise RawDataError(f"{f}: not a Parquet or newline-delimited JSON file (expected .parquet, .json, "
                               f".jsonl or .ndjson)")
    if len(kinds) > 1:
        raise RawDataError(f"{', '.join(str(f) for f in files[:3])}: the inputs mix Parquet and JSON files; "
                           f"load them separately (one format per run)")
    return files, kinds.pop()


class ExportReader:
    """Reads the files of one export and resolves field paths to SQL expressions (NULL when absent)."""

    def __init__(self, con, files: list[Path], fmt: str, json_columns: dict[str, str]):
        self.con, self.files, self.fmt = con, files, fmt
        file_list = "[" + ", ".join(_sql_str(f) for f in files) + "]"
        if fmt == "json":
            cols = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in json_columns.items()) + "}"
            self.relation = (f"read_json({file_list}, format='newline_delimited', columns={cols}, "
                             f"filename=true, maximum_object_size=67108864)")
        else:
            self.relation = f"read_parquet({file_list}, union_by_name=true, filename=true)"
        self.execute(f"describe select * from {self.relation}")

    def execute(self, sql: str):
        """Run a statement that reads the files; a read error names the file (DuckDB's message gives the line)."""
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as e:
            where = self.files[0] if len(self.files) == 1 else f"{self.files[0].parent} ({len(self.files)} files)"
            kind = "Parquet" if self.fmt == "parquet" else "newline-delimited JSON"
            raise RawDataError(f"{where}: cannot be read as {kind} ({str(e).splitlines()[0]})") from None

    def type_of(self, expr: str) -> str | None:
        """The type of ``expr`` over the files, or None when the files do not have the path."""
        try:
            return self.con.execute(f"describe select {expr} as v from {self.relation}").fetchall()[0][1]
        except duckdb.Error:
            return None

    def bindable(self, expr: str) -> bool:
        return self.type_of(expr) is not None

    def text(self, *paths: str) -> str:
        """Trimmed text of the first path the files have (as a SQL expression); NULL when none is present."""
        for p in paths:
            typ = self.type_of(p)
            if typ is not None:
                return f"nullif(trim({leaf_text(p, typ)}), '')"
        return "cast(null as varchar)"

    def list_fields(self, list_expr: str, fields: tuple[str, ...]) -> str:
        """A list of structs of the text of ``fields`` (NULL where the elements lack a field)."""
        parts = []
        for f in fields:
            typ = self.type_of(f"list_transform({list_expr}, lambda x: x.{f})")
            leaf = "cast(null as varchar)" if typ is None else \
                f"nullif(trim({leaf_text(f'x.{f}', typ.removesuffix('[]'))}), '')"
            parts.append(f"{f} := {leaf}")
        return f"list_transform({list_expr}, lambda x: struct_pack({', '.join(parts)}))"

    def raw(self, *paths: str) -> str | None:
        """The first path the files have, untouched, or None."""
        for p in paths:
            if self.bindable(p):
                return p
        return None

    def check_required(self, table: str, required: dict[str, str], source: str) -> None:
        """Error when a required field is absent, or NULL in every row, of a file (``required``: name -> expr)."""
        counts = ", ".join(f"count({expr})" for expr in required.values())
        rows = self.con.execute(f"select filename, count(*), {counts} from {table} group by filename "
                                f"order by filename").fetchall()
        for row in rows:
            fname, n = row[0], row[1]
            for name, c in zip(required, row[2:], strict=True):
                if n and c == 0:
                    raise RawDataError(
                        f"{fname}: missing required field '{name}' (absent or empty in all {n:,} rows); "
                        f"a {source} export needs {', '.join(required)}")


def leaf_text(expr: str, typ: str) -> str:
    """Text of a leaf value: a JSON-typed value (Parquet written from JSON) without its quotes."""
    if typ.upper() == "JSON":
        return f"({expr} ->> '$')"
    return f"cast({expr} as varchar)"


def utc_text_macros(con) -> None:
    """Macros of the loaders: UTC text of epoch microseconds and of ISO text with an offset (or without: UTC).

    Both keep a value that does not parse as it was; ``rl_ts_text`` comes with ``connect_utc``.
    """
    con.execute("""
        create or replace temp macro rl_iso_utc(v) as
            coalesce(rl_ts_text(cast(try_cast(v as timestamptz) as timestamp)), v);
        create or replace temp macro rl_epoch_us_utc(v) as
            coalesce(rl_ts_text(make_timestamp(try_cast(v as bigint))), v);
    """)


def device_sql(expr: str) -> str:
    """desktop, mobile or tablet from a free device text; NULL when unknown."""
    return (f"case when lower({expr}) in ('mobile', 'ios', 'android', 'phone', 'smartphone') then 'mobile' "
            f"when lower({expr}) in ('tablet', 'ipad') then 'tablet' "
            f"when lower({expr}) in ('desktop', 'web', 'computer', 'pc', 'mac', 'macos', 'windows', 'linux') "
            f"then 'desktop' end")


def write_parquet(con, sql: str, path: Path) -> int:
    con.execute(f"copy ({sql}) to {_sql_str(path)} (format parquet, compression zstd)")
    return con.execute(f"select count(*) from read_parquet({_sql_str(path)})").fetchall()[0][0]


def product_role_check(con, events_path: Path, report: LoadReport) -> None:
    """Note the events whose role needs a product (seed event_roles.csv) but that have no product_id."""
    roles = event_roles()
    names = [n for n, r in roles.items() if r in PRODUCT_ROLES]
    if not names:
        return
    in_list = ", ".join(_sql_str(n) for n in names)
    n = con.execute(f"select count(*) from read_parquet({_sql_str(events_path)}) "
                    f"where lower(trim(event_type)) in ({in_list}) and product_id is null").fetchall()[0][0]
    if n:
        report.notes.append(f"{n:,} product_view/add_to_cart event(s) without a product id: kept for sessions "
                            f"and funnels, left out of the product journeys")


def open_connection():
    con = connect_utc()
    utc_text_macros(con)
    return con


@contextmanager
def export_load(inputs, out_dir: str | Path, source: str, json_columns: dict[str, str],
                log=print) -> Iterator[tuple[ExportReader, Path, LoadReport]]:
    """The frame every loader shares: resolve the export's files, open a UTC connection and a reader, create the
    output folder; on success note product events without a product, then close and log the report."""
    files, fmt = resolve_files(inputs, source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = LoadReport(source, [str(f) for f in files])
    con = open_connection()
    try:
        yield ExportReader(con, files, fmt, json_columns), out, report
        product_role_check(con, out / "events.parquet", report)
    finally:
        con.close()
    for line in report.lines():
        log(line)
