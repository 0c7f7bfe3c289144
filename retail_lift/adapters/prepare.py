"""Prepare a folder of raw tables (Parquet or CSV, one file per table) for the dbt sources.

``prepare_raw(data_dir, out_dir)`` writes one Parquet file per table of the raw-data contract into
the landing folder that the dbt sources read (``RETAIL_LIFT_RAW``), plus ``_load_report.parquet``
(what was done with each table) and ``_rejected_lines.parquet`` (CSV lines that could not be parsed
at all, with file, line number and error, so that nothing is lost in silence). Spark skips files whose
name starts with ``_`` (Hadoop's hidden files), so the load report is also written as
``spark/load_report.parquet``, where the Spark target reads it (macros/register_sources.sql).

* A Parquet file whose columns already have the contract's types is linked, not copied.
* A CSV file is read with every column as text and written as Parquet; staging casts each value
  with ``try_cast`` and quarantines rows whose values do not parse, keeping the original text.
* A missing required column is an error naming the file, the column and the columns found (and, when the
  header holds another delimiter than the one in use, the ``--delimiter`` to give). Unknown extra columns
  are ignored (and named in the report).
* CSV options: ``delimiter`` (default ``,``, tab for ``.tsv``) and ``decimal`` (``.`` or ``,``; with ``,``
  the text ``12,50`` or ``1.234,50`` of a DOUBLE column becomes ``12.50`` / ``1234.50``). A file with mixed
  line endings (``\r\n`` and ``\n``) is read leniently; a header-only file lands as 0 rows.
* Times (every TIMESTAMP column of the contract) are normalised to UTC: text with an offset or ``Z``
  (``2024-01-05T10:00:00+02:00``) becomes the UTC text ``2024-01-05 08:00:00``; a TIMESTAMP WITH TIME ZONE
  column is converted to UTC; a column of epoch numbers is converted from seconds, milliseconds,
  microseconds or nanoseconds, the unit chosen per column from the magnitude of its median value (the
  report names the columns and the unit). Text without an offset is taken as UTC, as it is; a value that
  does not parse is left untouched, so that staging quarantines it as unparseable. The connection's
  TimeZone is UTC, so nothing depends on the machine's time zone.
* Only ``events`` or ``orders`` is required. Absent tables are derived where the others allow it
  (customers, products, categories, orders and order lines from transaction events) and written
  empty otherwise, so that every model builds.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retail_lift.contract import REQUIRED_ANY_OF, TABLES, TRUTH_TABLES, Table, empty_select_sql, event_roles


class RawDataError(ValueError):
    """A raw input cannot be used; the message names the file and the column."""


@dataclass
class TableReport:
    table_name: str
    status: str  # provided | converted | derived | empty
    source_file: str | None
    row_count: int
    rejected_lines: int
    note: str


def _sql_str(s: str | Path) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def find_input(data_dir: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``data_dir``: name.parquet, name.csv or name.csv.gz."""
    for ext in (".parquet", ".csv", ".csv.gz", ".tsv"):
        f = data_dir / f"{name}{ext}"
        if f.exists():
            return f
    return None


def connect_utc():
    """A DuckDB connection whose TimeZone is UTC (casts of TIMESTAMP WITH TIME ZONE never use the machine's)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("""
        create or replace temp macro rl_ts_text(ts) as
            strftime(ts, '%Y-%m-%d %H:%M:%S')
            || case when epoch_us(ts) % 1000000 <> 0 then strftime(ts, '.%f') else '' end""")
    return con


DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def normalise_delimiter(delimiter: str | None) -> str | None:
    """The CSV delimiter of an option value (``;``, ``\\t`` or ``tab``, ...); None means the default."""
    if delimiter is None or delimiter == "":
        return None
    d = DELIMITER_NAMES.get(delimiter.lower() if len(delimiter) > 1 else delimiter, delimiter)
    if len(d) != 1 or d in ('"', "\n", "\r"):
        raise RawDataError(f"--delimiter {delimiter!r}: expected one character such as ',', ';', '|' or '\\t'")
    return d


def normalise_decimal(decimal: str | None) -> str:
    d = decimal or "."
    if d not in (".", ","):
        raise RawDataError(f"--decimal {decimal!r}: expected '.' or ','")
    return d


def _shown(delim: str) -> str:
    return "\\t" if delim == "\t" else delim


def _describe(con, relation_sql: str) -> dict[str, str]:
    rows = con.execute(f"describe select * from {relation_sql}").fetchall()
    return {r[0]: r[1] for r in rows}


def _csv_delimiter(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        return delimiter
    return "\t" if path.suffix == ".tsv" else ","


def _csv_relation(path: Path, delim: str = ",", strict: bool = True) -> str:
    lenient = "" if strict else ", strict_mode=false"
    return (f"read_csv({_sql_str(path)}, header=true, all_varchar=true, delim={_sql_str(delim)}, quote='\"', "
            f"escape='\"', ignore_errors=true, store_rejects=true, "
            f"rejects_table='rl_reject_errors', rejects_scan='rl_reject_scans'{lenient})")


def _has_mixed_line_endings(path: Path, limit: int = 16 << 20) -> bool:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(limit)
    return b"\r\n" in head and re.search(rb"(?<!\r)\n", head) is not None


def _delimiter_hint(table: Table, found: list[str], delim: str) -> str:
    """When the header reads as another delimiter's, the option to give."""
    header = delim.join(found)
    for cand in (";", ",", "\t", "|"):
        if cand == delim or cand not in header:
            continue
        parts = [p.strip().strip('"').lower() for p in header.split(cand)]
        if len(parts) > 1 and any(c in parts for c in table.required_columns):
            return (f" The header looks '{_shown(cand)}'-separated: use --delimiter '{_shown(cand)}' "
                    f"(make build DATA=... DELIMITER='{_shown(cand)}').")
    return ""


def _check_columns(table: Table, found: list[str], path: Path, delim: str | None = None) -> list[str]:
    """Map found columns (case-insensitive, trimmed) onto the contract; error on missing required ones."""
    norm = {c.strip().lower(): c for c in found}
    missing = [c for c in table.required_columns if c not in norm]
    if missing:
        hint = _delimiter_hint(table, found, delim) if delim is not None else ""
        raise RawDataError(
            f"{path}: missing required column(s) {', '.join(missing)} for table '{table.name}'; "
            f"found columns: {', '.join(found) if found else '(none)'}. "
            f"Expected: {', '.join(table.column_names)} (see README, 'Bring your own data').{hint}"
        )
    return [c for c in found if c.strip().lower() not in table.column_names]


def _link_exact_parquet(con, table: Table, path: Path, target: Path) -> TableReport:
    """A Parquet file with exactly the contract's columns and types: linked (or copied) as it is."""
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    n = con.execute(f"select count(*) from read_parquet({_sql_str(target)})").fetchall()[0][0]
    return TableReport(table.name, "provided", str(path), n, 0, "contract types; linked as is")


def _open_parquet(con, table: Table, path: Path) -> tuple[str, dict, list[str], bool]:
    """(relation, columns and types, extra columns, whether the file has the contract's exact columns and
    types) of a Parquet input."""
    try:
        cols = _describe(con, f"read_parquet({_sql_str(path)})")
    except duckdb.Error as e:
        raise RawDataError(f"{path}: not a readable Parquet file ({e.__class__.__name__}: "
                           f"{str(e).splitlines()[0]})") from None
    extra = _check_columns(table, list(cols), path)
    exact = (not extra and list(cols) == table.column_names
             and all(cols[c.name].upper() == c.type for c in table.columns))
    return f"read_parquet({_sql_str(path)})", cols, extra, exact


def _open_csv(con, table: Table, path: Path, delimiter: str | None, notes: list[str]) -> tuple[str, dict, list[str]]:
    """(relation, columns and types, extra columns) of a CSV input; a lenient read of mixed line endings is
    added to ``notes``."""
    delim = _csv_delimiter(path, delimiter)
    con.execute("drop table if exists rl_reject_errors; drop table if exists rl_reject_scans")
    relation = _csv_relation(path, delim)
    try:
        cols = _describe(con, relation)
    except duckdb.Error as e:
        if not ("sniffing" in str(e) and _has_mixed_line_endings(path)):
            raise RawDataError(f"{path}: cannot be read as CSV ({str(e).splitlines()[0]})") from None
        # \r\n and \n in one file: DuckDB's dialect sniffer gives up; its lenient mode reads such a file
        relation = _csv_relation(path, delim, strict=False)
        try:
            cols = _describe(con, relation)
        except duckdb.Error as e2:
            raise RawDataError(f"{path}: cannot be read as CSV ({str(e2).splitlines()[0]})") from None
        notes.append("mixed line endings (\\r\\n and \\n) read in lenient mode")
    extra = _check_columns(table, list(cols), path, delim)
    return relation, cols, extra


def _column_select(c, src: str, found_type: str, units: dict, source_col: str, decimal: str,
                   notes: list[str]) -> str:
    """The select expression of contract column ``c`` from input column ``src`` of type ``found_type``."""
    if found_type == c.type:
        return f"{src} as {c.name}"
    if c.type == "TIMESTAMP" and found_type in _TS_TYPES:
        notes.append(f"{c.name}: {found_type} converted to UTC TIMESTAMP")
        return f"cast({src} as timestamp) as {c.name}"
    if c.type == "TIMESTAMP":
        unit, n_epoch, n_offset = units[source_col]
        if unit and n_epoch:
            notes.append(f"{c.name}: {n_epoch:,} epoch value(s) in {unit} converted to UTC text")
        if n_offset:
            notes.append(f"{c.name}: {n_offset:,} value(s) with a UTC offset converted to UTC")
        return f"{_utc_text_sql(src, unit)} as {c.name}"
    if c.type == "DOUBLE" and decimal == ",":
        return f"{_decimal_comma_sql(src)} as {c.name}"
    # anything else stays text so that staging can quarantine bad values
    return f"cast({src} as varchar) as {c.name}"


def _column_selects(con, table: Table, relation: str, cols: dict, decimal: str, is_csv: bool,
                    notes: list[str]) -> list[str]:
    """One select expression per contract column (NULL for a column the input lacks)."""
    norm = {c.strip().lower(): c for c in cols}
    ts_cols = [c for c in table.columns if c.type == "TIMESTAMP" and c.name in norm
               and cols[norm[c.name]].upper() not in ("TIMESTAMP",) + _TS_TYPES]
    units = _epoch_units(con, relation, [norm[c.name] for c in ts_cols]) if ts_cols else {}
    if is_csv:
        con.execute("drop table if exists rl_reject_errors; drop table if exists rl_reject_scans")
    selects = []
    for c in table.columns:
        if c.name not in norm:
            selects.append(f"cast(null as {c.type}) as {c.name}")
            continue
        src = '"' + norm[c.name].replace('"', '""') + '"'
        selects.append(_column_select(c, src, cols[norm[c.name]].upper(), units, norm[c.name], decimal, notes))
    if decimal == "," and any(c.type == "DOUBLE" and c.name in norm and cols[norm[c.name]].upper() != "DOUBLE"
                              for c in table.columns):
        notes.append("decimal ',' converted to '.' in the DOUBLE column(s)")
    return selects


def _converted_note(n: int, rejected: int, is_csv: bool, notes: list[str], extra: list[str]) -> str:
    note = "converted to Parquet; values are cast and checked in staging"
    if n == 0 and rejected == 0:
        note = "header only: 0 rows" if is_csv else "no rows: 0 rows"
    for extra_note in notes:
        note += f"; {extra_note}"
    if extra:
        note += f"; ignored extra column(s): {', '.join(extra)}"
    if rejected:
        note += f"; {rejected} unparseable line(s) kept in _rejected_lines.parquet"
    return note


def _write_table(con, table: Table, path: Path, out: Path, delimiter: str | None = None,
                 decimal: str = ".") -> TableReport:
    """One raw table written as contract-typed Parquet: an exact Parquet file linked, anything else read
    (Parquet or CSV), its columns selected by the contract and written; unparseable CSV lines kept aside."""
    target = out / f"{table.name}.parquet"
    if path.stat().st_size == 0:
        raise RawDataError(f"{path}: the file is empty (no header, no rows); expected columns "
                           f"{', '.join(table.column_names)}")
    notes: list[str] = []
    is_csv = path.suffix != ".parquet"
    if is_csv:
        relation, cols, extra = _open_csv(con, table, path, delimiter, notes)
    else:
        relation, cols, extra, exact = _open_parquet(con, table, path)
        if exact:
            return _link_exact_parquet(con, table, path, target)
    selects = _column_selects(con, table, relation, cols, decimal, is_csv, notes)
    tmp = target.with_suffix(".parquet.tmp")
    try:
        con.execute(f"copy (select {', '.join(selects)} from {relation}) to {_sql_str(tmp)} "
                    f"(format parquet, compression zstd)")
    except duckdb.Error as e:
        raise RawDataError(f"{path}: could not be converted ({str(e).splitlines()[0]})") from None
    os.replace(tmp, target)
    rejected = _collect_rejects(con, table.name, path) if is_csv else 0
    n = con.execute(f"select count(*) from read_parquet({_sql_str(target)})").fetchall()[0][0]
    return TableReport(table.name, "converted", str(path), n, rejected,
                       _converted_note(n, rejected, is_csv, notes, extra))


#: Parquet time types that convert to the contract's TIMESTAMP without loss of meaning (TIMESTAMPTZ -> UTC).
_TS_TYPES = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE")
#: Epoch units by magnitude: seconds from 1973-03 (1e8), milliseconds, microseconds, nanoseconds.
EPOCH_UNITS = (("seconds", 1e8, 1e11, "1000000"), ("milliseconds", 1e11, 1e14, "1000"),
               ("microseconds", 1e14, 1e17, "1"), ("nanoseconds", 1e17, 1e20, "0.001"))
_NUMBER_RE = r"^[0-9]+(\.[0-9]+)?$"
_OFFSET_RE = r"(?i)^.*[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(z|utc|gmt|[+-][0-9]{2}(:?[0-9]{2})?)$"


def _epoch_unit(median: float | None) -> tuple | None:
    if median is None:
        return None
    for unit in EPOCH_UNITS:
        if unit[1] <= abs(median) < unit[2]:
            return unit
    return None


def _ident(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _epoch_units(con, relation: str, columns: list[str]) -> dict[str, tuple]:
    """Per text time column: (epoch unit or None, values converted as epoch, values with an offset)."""
    parts = []
    for col in columns:
        v = f"trim(cast({_ident(col)} as varchar))"
        num = f"regexp_full_match({v}, '{_NUMBER_RE}')"
        parts.append(f"median(try_cast({v} as double)) filter (where {num})")
        parts += [f"count(*) filter (where {num} and try_cast({v} as double) >= {lo} "
                  f"and try_cast({v} as double) < {hi})" for _, lo, hi, _ in EPOCH_UNITS]
        parts.append(f"count(*) filter (where regexp_full_match({v}, '{_OFFSET_RE}') "
                     f"and try_cast({v} as timestamptz) is not null)")
    row = con.execute(f"select {', '.join(parts)} from {relation}").fetchall()[0]
    width = len(EPOCH_UNITS) + 2
    result = {}
    for i, col in enumerate(columns):
        vals = row[width * i: width * (i + 1)]
        unit = _epoch_unit(vals[0])
        n_epoch = vals[1 + EPOCH_UNITS.index(unit)] if unit else 0
        result[col] = (unit[0] if unit else None, n_epoch, vals[-1])
    return result


def _utc_text_sql(src: str, unit_name: str | None) -> str:
    """UTC text of a time value: epoch numbers of the column's unit, ISO text with an offset; else untouched."""
    v = f"trim(cast({src} as varchar))"
    cases = []
    unit = next((u for u in EPOCH_UNITS if u[0] == unit_name), None)
    if unit:
        cases.append(f"when regexp_full_match({v}, '{_NUMBER_RE}') and try_cast({v} as double) >= {unit[1]} "
                     f"and try_cast({v} as double) < {unit[2]} "
                     f"then rl_ts_text(make_timestamp(cast(round(cast({v} as decimal(38, 9)) * {unit[3]}) "
                     f"as bigint)))")
    cases.append(f"when regexp_full_match({v}, '{_OFFSET_RE}') and try_cast({v} as timestamptz) is not null "
                 f"then rl_ts_text(cast(try_cast({v} as timestamptz) as timestamp))")
    return f"case {' '.join(cases)} else cast({src} as varchar) end"


def _decimal_comma_sql(src: str) -> str:
    """Text of a number written with a decimal comma (12,50 or 1.234,50 or 1 234,50) in dot notation."""
    v = f"trim(cast({src} as varchar))"
    return (f"case when regexp_full_match({v}, '[+-]?[0-9]+(,[0-9]+)?') then replace({v}, ',', '.') "
            f"when regexp_full_match({v}, '[+-]?[0-9]{{1,3}}([. ][0-9]{{3}})+(,[0-9]+)?') "
            f"then replace(replace(replace({v}, '.', ''), ' ', ''), ',', '.') "
            f"else cast({src} as varchar) end")


def _collect_rejects(con, table_name: str, path: Path) -> int:
    try:
        rows = con.execute(
            "select line, min(error_type), min(error_message), min(csv_line) from rl_reject_errors "
            "group by line order by line").fetchall()
    except duckdb.Error:
        return 0
    if rows:
        con.executemany("insert into rl_rejected_lines values (?, ?, ?, ?, ?, ?)",
                        [(table_name, str(path), int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows])
    return len({r[0] for r in rows})


def _derive(con, name: str, out: Path, present: set[str]) -> TableReport | None:
    """Build an absent table from the others, or return None when it cannot be derived."""
    def src(t: str) -> str:
        return f"read_parquet({_sql_str(out / f'{t}.parquet')})"

    ts = "try_cast(event_at as timestamp)"
    # purchase events: every name the seed event_roles maps to the role purchase (as staging reads them)
    names = sorted(n for n, role in event_roles().items() if role == "purchase")
    is_purchase = f"lower(trim(cast(event_type as varchar))) in ({', '.join(_sql_str(n) for n in names)})"
    sql, note = None, None
    if name == "orders" and "events" in present:
        price = (f"(select product_id, try_cast(price as double) as price from {src('products')})"
                 if "products" in present
                 else "(select null::varchar as product_id, null::double as price where false)")
        sql = f"""
            select cast(e.transaction_id as varchar) as order_id, cast(min(e.visitor_id) as varchar) as customer_id,
                   min({ts}) as ordered_at, sum(p.price) as amount, cast(null as double) as discount_amount,
                   'online' as channel, cast(null as varchar) as store_id, cast(null as varchar) as promotion_id
            from {src('events')} as e left join {price} as p on cast(e.product_id as varchar) = p.product_id
            where {is_purchase.replace('event_type', 'e.event_type')} and e.transaction_id is not null
            group by 1"""
        note = "from purchase events (seed event_roles): one order per transaction_id, customer = visitor; " \
               "amount = sum of product prices when products are known, else NULL"
    elif name == "order_lines" and "events" in present and "orders" in present:
        sql = f"""
            select cast(transaction_id as varchar) as order_id,
                   cast(row_number() over (partition by transaction_id order by product_id) as integer) as line_number,
                   cast(product_id as varchar) as product_id, cast(1 as integer) as quantity,
                   cast(null as double) as unit_price, cast(null as double) as discount_amount
            from (select distinct transaction_id, product_id from {src('events')}
                  where {is_purchase} and transaction_id is not null and product_id is not null)"""
        note = "from purchase events (seed event_roles): one line per product of a transaction, quantity 1"
    elif name == "customers" and ("orders" in present or "events" in present):
        parts = []
        if "orders" in present:
            parts.append(f"select cast(customer_id as varchar) as customer_id from {src('orders')}")
        if "events" in present and name not in present:
            parts.append(f"select cast(visitor_id as varchar) from {src('events')} where {is_purchase}")
        cols = ", ".join("customer_id" if c.name == "customer_id" else
                         ("customer_id as visitor_id" if c.name == "visitor_id"
                          else f"cast(null as {c.type}) as {c.name}")
                         for c in TABLES["customers"].columns)
        sql = f"select {cols} from (select distinct customer_id from ({' union all '.join(parts)}) " \
              f"where customer_id is not null)"
        note = "customers seen in orders (and buyers in events; visitor_id = customer_id), no attributes"
    elif name == "products" and ("events" in present or "order_lines" in present):
        parts = []
        if "events" in present:
            parts.append(f"select cast(product_id as varchar) as product_id, cast(null as double) as p "
                         f"from {src('events')}")
        if "order_lines" in present:
            parts.append("select cast(product_id as varchar), try_cast(unit_price as double) "
                         f"from {src('order_lines')}")
        sql = f"""
            select product_id, cast(null as varchar) as category_id, cast(null as varchar) as product_name,
                   avg(p) as price, cast(null as double) as unit_cost, cast(null as timestamp) as launched_at
            from ({' union all '.join(parts)}) where product_id is not null group by 1"""
        note = "products seen in events and order lines; price = mean unit price paid"
    elif name == "categories" and "products" in present:
        sql = f"""
            select distinct cast(category_id as varchar) as category_id, cast(null as varchar) as parent_category_id,
                   cast(category_id as varchar) as category_name
            from {src('products')} where category_id is not null"""
        note = "categories named in products, without a tree"
    if sql is None:
        return None
    con.execute(f"copy ({sql}) to {_sql_str(out / f'{name}.parquet')} (format parquet, compression zstd)")
    n = con.execute(f"select count(*) from {src(name)}").fetchall()[0][0]
    return TableReport(name, "derived", None, n, 0, note)


def _write_empty(con, table: Table, out: Path, note: str) -> TableReport:
    con.execute(f"copy ({empty_select_sql(table)}) to {_sql_str(out / f'{table.name}.parquet')} (format parquet)")
    return TableReport(table.name, "empty", None, 0, 0, note)


DERIVATION_ORDER = ["orders", "order_lines", "customers", "products", "categories"]


def prepare_raw(data_dir: str | Path, out_dir: str | Path, truth_dir: str | Path | None = None,
                truth_out: str | Path | None = None, log=print, delimiter: str | None = None,
                decimal: str = ".") -> list[TableReport]:
    """Check and land a folder of raw tables; see the module docstring. Returns the load report.

    ``delimiter``: the CSV delimiter (default ',' and tab for .tsv); ``decimal``: '.' or ',' (DOUBLE columns).
    """
    data_dir, out = Path(data_dir), Path(out_dir)
    delimiter, decimal = normalise_delimiter(delimiter), normalise_decimal(decimal)
    if not data_dir.is_dir():
        raise RawDataError(f"{data_dir}: no such folder (set RETAIL_LIFT_DATA or DATA= to a folder of raw tables)")
    inputs = {name: find_input(data_dir, name) for name in TABLES}
    if not any(inputs[n] for n in REQUIRED_ANY_OF):
        found = sorted(p.name for p in data_dir.iterdir())
        raise RawDataError(
            f"{data_dir}: holds neither events nor orders (expected events.parquet/.csv or orders.parquet/.csv); "
            f"found: {', '.join(found) if found else '(nothing)'}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    reports: dict[str, TableReport] = {}
    con = connect_utc()
    try:
        con.execute("create table rl_rejected_lines (table_name varchar, source_file varchar, line bigint, "
                    "error_type varchar, error_message varchar, csv_line varchar)")
        for name, path in inputs.items():
            if path is not None:
                reports[name] = _write_table(con, TABLES[name], path, out, delimiter, decimal)
        present = set(reports)
        for name in DERIVATION_ORDER:
            if name not in present:
                rep = _derive(con, name, out, present)
                if rep:
                    reports[name] = rep
                    present.add(name)
        for name, table in TABLES.items():
            if name not in reports:
                reports[name] = _write_empty(con, table, out, f"no {name} file in {data_dir}")
        con.execute(f"copy (select * from rl_rejected_lines order by table_name, line) to "
                    f"{_sql_str(out / '_rejected_lines.parquet')} (format parquet)")
        ordered = [reports[n] for n in TABLES]
        con.execute("create table rl_report (table_name varchar, status varchar, source_file varchar, "
                    "row_count bigint, rejected_lines bigint, note varchar)")
        con.executemany("insert into rl_report values (?, ?, ?, ?, ?, ?)",
                        [(r.table_name, r.status, r.source_file, r.row_count, r.rejected_lines, r.note)
                         for r in ordered])
        con.execute(f"copy (select * from rl_report) to {_sql_str(out / '_load_report.parquet')} (format parquet)")
        (out / "spark").mkdir(exist_ok=True)
        shutil.copyfile(out / "_load_report.parquet", out / "spark" / "load_report.parquet")
        _prepare_truth(con, truth_dir, Path(truth_out) if truth_out else out.parent / "truth")
    finally:
        con.close()
    for r in ordered:
        log(f"  {r.table_name:<24} {r.status:<10} {r.row_count:>10,} rows  {r.note}")
    return ordered


def _prepare_truth(con, truth_dir, truth_out: Path) -> None:
    """Link the simulated world's truth tables, or write them empty for real data."""
    truth_out.mkdir(parents=True, exist_ok=True)
    for name, table in TRUTH_TABLES.items():
        target = truth_out / f"{name}.parquet"
        if target.exists() or target.is_symlink():
            target.unlink()
        src = Path(truth_dir) / f"{name}.parquet" if truth_dir else None
        if src is not None and src.exists():
            try:
                os.link(src, target)
            except OSError:
                shutil.copyfile(src, target)
        else:
            con.execute(f"copy ({empty_select_sql(table)}) to {_sql_str(target)} (format parquet)")
