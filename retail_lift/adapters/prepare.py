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
* A missing required column is an error naming the file, the column and the columns found.
  Unknown extra columns are ignored (and named in the report).
* Only ``events`` or ``orders`` is required. Absent tables are derived where the others allow it
  (customers, products, categories, orders and order lines from transaction events) and written
  empty otherwise, so that every model builds.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retail_lift.contract import REQUIRED_ANY_OF, TABLES, TRUTH_TABLES, Table, empty_select_sql


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


def _describe(con, relation_sql: str) -> dict[str, str]:
    rows = con.execute(f"describe select * from {relation_sql}").fetchall()
    return {r[0]: r[1] for r in rows}


def _csv_relation(path: Path) -> str:
    sep = "'\\t'" if path.suffix == ".tsv" else "','"
    return (f"read_csv({_sql_str(path)}, header=true, all_varchar=true, delim={sep}, quote='\"', "
            f"escape='\"', ignore_errors=true, store_rejects=true, "
            f"rejects_table='rl_reject_errors', rejects_scan='rl_reject_scans')")


def _check_columns(table: Table, found: list[str], path: Path) -> list[str]:
    """Map found columns (case-insensitive, trimmed) onto the contract; error on missing required ones."""
    norm = {c.strip().lower(): c for c in found}
    missing = [c for c in table.required_columns if c not in norm]
    if missing:
        raise RawDataError(
            f"{path}: missing required column(s) {', '.join(missing)} for table '{table.name}'; "
            f"found columns: {', '.join(found) if found else '(none)'}. "
            f"Expected: {', '.join(table.column_names)} (see README, 'Bring your own data')."
        )
    return [c for c in found if c.strip().lower() not in table.column_names]


def _write_table(con, table: Table, path: Path, out: Path) -> TableReport:
    target = out / f"{table.name}.parquet"
    if path.stat().st_size == 0:
        raise RawDataError(f"{path}: the file is empty (no header, no rows); expected columns "
                           f"{', '.join(table.column_names)}")
    rejected = 0
    if path.suffix == ".parquet":
        try:
            cols = _describe(con, f"read_parquet({_sql_str(path)})")
        except duckdb.Error as e:
            raise RawDataError(f"{path}: not a readable Parquet file ({e.__class__.__name__}: "
                               f"{str(e).splitlines()[0]})") from None
        extra = _check_columns(table, list(cols), path)
        norm = {c.strip().lower(): c for c in cols}
        exact = (not extra and list(cols) == table.column_names
                 and all(cols[c.name].upper() == c.type for c in table.columns))
        if exact:
            if target.exists() or target.is_symlink():
                target.unlink()
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
            n = con.execute(f"select count(*) from read_parquet({_sql_str(target)})").fetchall()[0][0]
            return TableReport(table.name, "provided", str(path), n, 0, "contract types; linked as is")
        relation = f"read_parquet({_sql_str(path)})"
    else:
        con.execute("drop table if exists rl_reject_errors; drop table if exists rl_reject_scans")
        try:
            cols = _describe(con, _csv_relation(path))
        except duckdb.Error as e:
            raise RawDataError(f"{path}: cannot be read as CSV ({str(e).splitlines()[0]})") from None
        extra = _check_columns(table, list(cols), path)
        norm = {c.strip().lower(): c for c in cols}
        relation = _csv_relation(path)
        con.execute("drop table if exists rl_reject_errors; drop table if exists rl_reject_scans")
    selects = []
    for c in table.columns:
        if c.name in norm:
            src = '"' + norm[c.name].replace('"', '""') + '"'
            found_type = cols[norm[c.name]].upper()
            # keep matching types; anything else stays text so that staging can quarantine bad values
            selects.append(f"{src} as {c.name}" if found_type == c.type else f"cast({src} as varchar) as {c.name}")
        else:
            selects.append(f"cast(null as {c.type}) as {c.name}")
    tmp = target.with_suffix(".parquet.tmp")
    try:
        con.execute(f"copy (select {', '.join(selects)} from {relation}) to {_sql_str(tmp)} "
                    f"(format parquet, compression zstd)")
    except duckdb.Error as e:
        raise RawDataError(f"{path}: could not be converted ({str(e).splitlines()[0]})") from None
    os.replace(tmp, target)
    if path.suffix != ".parquet":
        rejected = _collect_rejects(con, table.name, path)
    n = con.execute(f"select count(*) from read_parquet({_sql_str(target)})").fetchall()[0][0]
    note = "converted to Parquet; values are cast and checked in staging"
    if extra:
        note += f"; ignored extra column(s): {', '.join(extra)}"
    if rejected:
        note += f"; {rejected} unparseable line(s) kept in _rejected_lines.parquet"
    return TableReport(table.name, "converted", str(path), n, rejected, note)


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
            where e.event_type = 'transaction' and e.transaction_id is not null
            group by 1"""
        note = "from transaction events: one order per transaction_id, customer = visitor; amount = sum of " \
               "product prices when products are known, else NULL"
    elif name == "order_lines" and "events" in present and "orders" in present:
        sql = f"""
            select cast(transaction_id as varchar) as order_id,
                   cast(row_number() over (partition by transaction_id order by product_id) as integer) as line_number,
                   cast(product_id as varchar) as product_id, cast(1 as integer) as quantity,
                   cast(null as double) as unit_price, cast(null as double) as discount_amount
            from (select distinct transaction_id, product_id from {src('events')}
                  where event_type = 'transaction' and transaction_id is not null)"""
        note = "from transaction events: one line per product of a transaction, quantity 1"
    elif name == "customers" and ("orders" in present or "events" in present):
        parts = []
        if "orders" in present:
            parts.append(f"select cast(customer_id as varchar) as customer_id from {src('orders')}")
        if "events" in present and name not in present:
            parts.append(f"select cast(visitor_id as varchar) from {src('events')} where event_type = 'transaction'")
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
                truth_out: str | Path | None = None, log=print) -> list[TableReport]:
    """Check and land a folder of raw tables; see the module docstring. Returns the load report."""
    data_dir, out = Path(data_dir), Path(out_dir)
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
    con = duckdb.connect()
    try:
        con.execute("create table rl_rejected_lines (table_name varchar, source_file varchar, line bigint, "
                    "error_type varchar, error_message varchar, csv_line varchar)")
        for name, path in inputs.items():
            if path is not None:
                reports[name] = _write_table(con, TABLES[name], path, out)
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
