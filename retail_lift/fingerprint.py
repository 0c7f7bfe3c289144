"""A fingerprint of every table of a warehouse: row count and order-independent checksums.

Restructuring the project must not change what it builds. ``retail-lift fingerprint`` writes, per table
(``schema.table``), the row count, the column names and types, one checksum over whole rows and one per
column; ``--compare`` checks a warehouse against a committed fingerprint and lists every difference by
table and column, so each one can be explained.

Checksums are order-independent (the sum of DuckDB's ``hash`` over the rows, modulo 2**64) and
floating-point values are rounded to ``float_digits`` significant digits first, so that the last bits of a
parallel sum do not count as a change. Columns that measure the wall clock (names ending in ``_seconds``,
or listed in ``ignore_columns``) are left out of the checksums; they still count in the column list.
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


def _value_expr(column: str, dtype: str, float_digits: int) -> str:
    col = _quote(column)
    base = dtype.upper().split("(")[0]
    if base in FLOAT_TYPES:
        # significant digits, not decimals: CLV in thousands and probabilities near 0 alike
        return f"format('{{:.{float_digits}g}}', {col}::DOUBLE)"
    if base.startswith("DECIMAL"):
        return f"format('{{:.{float_digits}g}}', {col}::DOUBLE)"
    if dtype.upper().endswith("[]") or base in ("STRUCT", "MAP", "LIST", "UNION"):
        return f"{col}::VARCHAR"
    return col


def _checksum_sql(exprs: list[str], table: str) -> str:
    parts = [f"(sum(hash({e})::HUGEINT) % 18446744073709551616)::UBIGINT" for e in exprs]
    return f"select {', '.join(parts)} from {table}"


def warehouse_fingerprint(
    warehouse: str | Path,
    *,
    float_digits: int = 6,
    ignore_columns: Iterable[str] = (),
    schemas: Iterable[str] | None = None,
) -> dict:
    """Fingerprint every table (not view) of ``warehouse``, opened read-only.

    Returns ``{"float_digits": ..., "tables": {"schema.table": {"rows", "columns", "row_checksum",
    "column_checksums"}}}``; checksums are hexadecimal strings.
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
            exprs = [_value_expr(c, t, float_digits) for c, t in kept]
            rows = con.execute(f"select count(*) from {rel}").fetchall()[0][0]
            if exprs:
                row_expr = "struct_pack(" + ", ".join(f"{_quote('c' + str(i))} := {e}"
                                                     for i, e in enumerate(exprs)) + ")"
                sums = con.execute(_checksum_sql([row_expr, *exprs], rel)).fetchall()[0]
                sums = ["0" if s is None else format(int(s), "016x") for s in sums]
            else:
                sums = ["0"]
            out[f"{schema}.{name}"] = {
                "rows": int(rows),
                "columns": [f"{c} {t}" for c, t in cols],
                "row_checksum": sums[0],
                "column_checksums": {c: s for (c, _), s in zip(kept, sums[1:], strict=True)},
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
