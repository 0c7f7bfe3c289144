"""A fingerprint of every table of a warehouse: row count and order-independent checksums.

Restructuring the project must not change what it builds. ``retail-lift fingerprint`` writes, per table
(``schema.table``), the row count, the column names and types, one checksum over whole rows and one per
column; ``--compare`` checks a warehouse against a committed fingerprint and lists every difference by
table and column, so each one can be explained.

Checksums are order-independent: the sum of DuckDB's ``hash`` over the rows (modulo 2**64) for whole rows
and for every column that is not floating point. A floating-point column is summarised instead by
compensated sums (plain, squared, and weighted by a hash of each row's other columns, which ties each value
to its row), divided by the sum of absolute values (or of squares) and rounded to ``float_digits``
decimals: the last bits of a value computed by a parallel aggregate, or a value that sits on a decimal tie,
do not count as a change; a changed value does (to about 1e-11 of the column's total). Columns that
measure the wall clock (names ending in ``_seconds``,
or listed in ``ignore_columns``) are left out of the checksums; they still count in the column list.

This compares two DuckDB warehouses inside DuckDB (a full default warehouse in seconds).
``retail_lift.spark.compare.fingerprint`` is the other fingerprint of the project: one checksum per Arrow
table, normalised row by row in Python so that a DuckDB table and a Spark table compare equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

__all__ = ["compare_fingerprints", "warehouse_fingerprint", "write_fingerprint"]

FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8")
DEFAULT_SCHEMAS_SKIPPED = ("information_schema", "pg_catalog")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wall_clock(column: str, ignore: Iterable[str]) -> bool:
    return column.endswith("_seconds") or column == "seconds" or column in set(ignore)


def _is_float(dtype: str) -> bool:
    base = dtype.upper().split("(")[0]
    return base in FLOAT_TYPES or base.startswith("DECIMAL")


def _value_expr(column: str, dtype: str) -> str:
    col = _quote(column)
    if dtype.upper().endswith("[]") or dtype.upper().split("(")[0] in ("STRUCT", "MAP", "LIST", "UNION"):
        return f"{col}::VARCHAR"
    return col


def _float_summary_sql(column: str, weight: str, float_digits: int) -> str:
    """Sums of a floating-point column (plain, squared, and weighted by a hash of each row's other columns,
    which ties the values to their rows), each divided by the sum of absolute values and rounded: the last
    bits of a parallel sum, or one value on a decimal tie, do not change it; a changed value does."""
    x = f"{_quote(column)}::DOUBLE"
    parts = [f"fsum({x})", f"fsum({x} * {x})", f"fsum({x} * {weight})", f"count({x})"]
    scale = f"nullif(fsum(abs({x})), 0)"
    sq_scale = f"nullif(fsum({x} * {x}), 0)"
    return ("format('{}|{}|{}|{}', "
            f"round({parts[0]} / {scale}, {float_digits}), round({parts[1]} / {sq_scale}, {float_digits}), "
            f"round({parts[2]} / ({scale} * 1000), {float_digits}), {parts[3]})")


def warehouse_fingerprint(
    warehouse: str | Path,
    *,
    float_digits: int = 11,
    ignore_columns: Iterable[str] = (),
    schemas: Iterable[str] | None = None,
) -> dict:
    """Fingerprint every table (not view) of ``warehouse``, opened read-only.

    Returns ``{"float_digits": ..., "tables": {"schema.table": {"rows", "columns", "row_checksum",
    "column_checksums"}}}``; checksums are hexadecimal strings, floating-point columns' summaries
    ``"sum|sum of squares|weighted sum|count"``. The row checksum covers the columns that are not floating
    point.
    """
    ignore = tuple(ignore_columns)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2").fetchall()
        out: dict[str, dict] = {}
        for schema, name in tables:
            if schema in DEFAULT_SCHEMAS_SKIPPED or (schemas is not None and schema not in set(schemas)):
                continue
            rel = f"{_quote(schema)}.{_quote(name)}"
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]).fetchall()
            kept = [(c, t) for c, t in cols if not _wall_clock(c, ignore)]
            exact = [(c, t) for c, t in kept if not _is_float(t)]
            floats = [(c, t) for c, t in kept if _is_float(t)]
            rows = con.execute(f"select count(*) from {rel}").fetchall()[0][0]
            row_struct = ("struct_pack(" + ", ".join(f"{_quote('c' + str(i))} := {_value_expr(c, t)}"
                                                     for i, (c, t) in enumerate(exact)) + ")") if exact else "1"
            weight = f"((hash({row_struct}) % 997) + 1)::DOUBLE"
            selects = [f"(sum(hash({row_struct})::HUGEINT) % 18446744073709551616)::UBIGINT"]
            selects += [f"(sum(hash({_value_expr(c, t)})::HUGEINT) % 18446744073709551616)::UBIGINT"
                        for c, t in exact]
            selects += [_float_summary_sql(c, weight, float_digits) for c, _ in floats]
            vals = con.execute(f"select {', '.join(selects)} from {rel}").fetchall()[0]
            hexes = ["0" if v is None else format(int(v), "016x") for v in vals[: 1 + len(exact)]]
            float_sums = [str(v) for v in vals[1 + len(exact):]]
            column_sums = dict(zip([c for c, _ in exact], hexes[1:], strict=True))
            column_sums.update(zip([c for c, _ in floats], float_sums, strict=True))
            out[f"{schema}.{name}"] = {
                "rows": int(rows),
                "columns": [f"{c} {t}" for c, t in cols],
                "row_checksum": hexes[0],
                "column_checksums": {c: column_sums[c] for c, _ in kept},
            }
        return {"float_digits": float_digits, "ignored_columns": sorted(ignore) + ["*_seconds"], "tables": out}
    finally:
        con.close()


def write_fingerprint(fingerprint: Mapping, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
    return path


def compare_fingerprints(expected: Mapping, actual: Mapping) -> list[str]:
    """Every difference between two fingerprints, one line each (empty: they match)."""
    diffs: list[str] = []
    exp, act = expected["tables"], actual["tables"]
    for t in sorted(set(exp) - set(act)):
        diffs.append(f"{t}: missing (was {exp[t]['rows']} rows)")
    for t in sorted(set(act) - set(exp)):
        diffs.append(f"{t}: new table ({act[t]['rows']} rows)")
    for t in sorted(set(exp) & set(act)):
        e, a = exp[t], act[t]
        if e["rows"] != a["rows"]:
            diffs.append(f"{t}: rows {e['rows']} -> {a['rows']}")
        if e["columns"] != a["columns"]:
            gone = [c for c in e["columns"] if c not in a["columns"]]
            new = [c for c in a["columns"] if c not in e["columns"]]
            what = "; ".join(x for x in (f"removed {gone}" if gone else "", f"added {new}" if new else "") if x)
            diffs.append(f"{t}: columns changed ({what or 'order'})")
        changed = [c for c, s in e["column_checksums"].items()
                   if c in a["column_checksums"] and a["column_checksums"][c] != s]
        if changed:
            diffs.append(f"{t}: values differ in {', '.join(changed)}")
        elif e["row_checksum"] != a["row_checksum"] and e["columns"] == a["columns"]:
            diffs.append(f"{t}: rows differ (same column sums, different row combinations)")
    return diffs
