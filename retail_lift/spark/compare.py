"""Fingerprints of tables that do not depend on the engine that built them: the row count and an
order-independent checksum over normalised values, for comparing a DuckDB build with a Spark build.

Both engines hand their tables over as Arrow; values are normalised before hashing so that only real
differences count:

- floating-point numbers (and decimals) are rounded to ``float_digits`` significant digits: parallel sums
  add in a different order on each engine and differ in the last bits;
- timestamps are compared as naive UTC to the microsecond; dates as ISO dates;
- integers of any width compare equal (DuckDB's ``integer`` is Spark's ``int``, ``hugeint`` sums are
  ``bigint``); booleans as true/false; NULL and NaN as NULL.

The checksum is the XOR-free sum (mod 2**64) of a 64-bit hash of each row, so row order does not matter but
duplicates do.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
from dataclasses import dataclass

import pyarrow as pa

MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: int
    columns: tuple[str, ...]


def _normalise(value, float_digits: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | decimal.Decimal):
        x = float(value)
        if math.isnan(x):
            return "NULL"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        text = f"{x:.{float_digits}g}"
        # integral values of float columns compare equal to integer columns ('3' == '3.0')
        f = float(text)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else text
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_normalise(v, float_digits) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_normalise(v, float_digits)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def fingerprint(table: pa.Table, float_digits: int = 9, exclude: tuple[str, ...] = ()) -> Fingerprint:
    """Row count and order-independent checksum of an Arrow table; columns are taken in name order."""
    names = sorted(c for c in table.column_names if c.lower() not in {e.lower() for e in exclude})
    columns = [table.column(n).to_pylist() for n in names]
    total = 0
    for row in zip(*columns, strict=True):
        text = "\x1f".join(_normalise(v, float_digits) for v in row)
        total = (total + int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")) & MASK
    return Fingerprint(rows=table.num_rows, checksum=total, columns=tuple(n.lower() for n in names))


def row_differences(left: pa.Table, right: pa.Table, float_digits: int = 9, limit: int = 5) -> list[str]:
    """A few rows present in one table and not the other (normalised), to explain a checksum mismatch."""
    def rows(table):
        names = sorted(table.column_names)
        cols = [table.column(n).to_pylist() for n in names]
        out = {}
        for row in zip(*cols, strict=True):
            key = tuple(_normalise(v, float_digits) for v in row)
            out[key] = out.get(key, 0) + 1
        return names, out

    names, a = rows(left)
    _, b = rows(right)
    only_left = [k for k in a if a[k] != b.get(k, 0)][:limit]
    only_right = [k for k in b if b[k] != a.get(k, 0)][:limit]
    return ([f"duckdb only: {dict(zip(names, k, strict=True))}" for k in only_left]
            + [f"spark only: {dict(zip(names, k, strict=True))}" for k in only_right])
