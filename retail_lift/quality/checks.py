"""Building blocks of the quality suites: checks, severities, column types.

A suite (``retail_lift.quality.suites``) lists, per table, the columns it expects and its checks.
There are two kinds of check, and both end as a Great Expectations expectation:

``RowCheck``
    An expectation on the table's rows (``expect_column_values_to_be_between`` on ``amount``...).
    The runner validates it on every batch of rows (a day range of the table's time column, at
    most ``batch_rows`` rows), so a large table is never loaded whole, and adds the results up.
    Only expectations that judge each row on its own are used here, so that the sum over batches
    is the result over the table.

``TableCheck``
    A rule that needs the whole table at once (a key is unique, a foreign key exists in another
    table, the table is not empty). DuckDB computes it over the whole table and returns a small
    frame: the rows that break the rule (at most ``frame_rows``; the exact count is reported), or
    a one-row aggregate. The expectation then runs on that frame: on good data the frame is empty
    and the expectation passes; on bad data it fails with the offending keys as sample values.

Severity: every check is an ``error`` (the run fails; the CLI exits 1) or a ``warning``
(reported, the run passes). It is stored in the expectation's own ``severity`` field, GX 1.x's
``critical`` for an error and ``warning`` for a warning, and in ``meta["severity"]``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
#: Our severity -> the ``severity`` field of a GX 1.x expectation.
GX_SEVERITY = {ERROR: "critical", WARNING: "warning"}

#: Timestamps before this are implausible: the staging layer's default (``is_implausible_time``: before
#: 1970-01-01, a zero or negative epoch or a wrong unit; the dbt var ``min_plausible_at`` is null by default,
#: so a log from the 1990s is plausible).
MIN_PLAUSIBLE_AT = dt.datetime(1970, 1, 1)

#: Column types by family, as DuckDB names them (DECIMAL(18,3) is compared as DECIMAL).
#: A suite names a column's type either by family (lower case) or as one exact DuckDB type.
_INTEGERS = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
             "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"]
TYPE_FAMILIES: dict[str, list[str]] = {
    "string": ["VARCHAR"],
    "integer": _INTEGERS,
    "number": [*_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL"],
    "boolean": ["BOOLEAN"],
    "date": ["DATE"],
    "timestamp": ["TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"],
}


def accepted_types(declared: str) -> list[str]:
    """The DuckDB type names a declared type (a family or an exact type) accepts."""
    return TYPE_FAMILIES.get(declared, [normalize_type(declared)])


def normalize_type(duckdb_type: str) -> str:
    """DuckDB's type name without parameters: DECIMAL(18,3) -> DECIMAL."""
    return re.sub(r"\(.*\)$", "", duckdb_type.strip().upper())


class _AsOf:
    """Placeholder for "the run's as-of time plus one day" in an expectation's arguments."""

    def __repr__(self) -> str:  # shown in the suite listing
        return "<as_of + 1 day>"


#: Replaced by the run's as-of time plus one day (a timestamp later than that is in the future).
AS_OF_PLUS_ONE_DAY = _AsOf()


@dataclass(frozen=True)
class RowCheck:
    """A GX expectation validated on every batch of the table's rows."""

    expectation: str
    kwargs: Mapping[str, Any]
    severity: str = ERROR
    notes: str | None = None
    needs: tuple[str, ...] = ()  # columns read besides the ones named in kwargs (e.g. by row_condition)

    @property
    def columns(self) -> tuple[str, ...]:
        return _columns_of(self.kwargs) + tuple(c for c in self.needs if c not in _columns_of(self.kwargs))

    @property
    def label(self) -> str:
        return ", ".join(_columns_of(self.kwargs))


@dataclass(frozen=True)
class TableCheck:
    """A rule over the whole table, computed in DuckDB and fed to GX as a small frame.

    ``sql`` builds the frame; ``{table}`` is replaced by the checked table and ``{other}`` by the
    table named in ``other``. ``sample_column`` is the frame column whose values are the sample
    bad values (a duplicated key, an orphan foreign key).
    """

    name: str
    expectation: str
    kwargs: Mapping[str, Any]
    sql: str
    columns: tuple[str, ...]
    sample_column: str | None = None
    other: str | None = None
    other_columns: tuple[str, ...] = ()
    severity: str = ERROR
    notes: str | None = None
    column_label: str | None = None  # the column named in reports (default: the columns read)
    population_sql: str | None = None  # counts what the rule judges, when not the table's rows
    unit: str = "rows"

    @property
    def label(self) -> str:
        return self.column_label or ", ".join(self.columns)


Check = RowCheck | TableCheck


@dataclass(frozen=True)
class TableSuite:
    """What is checked on one table.

    ``table``           ``raw.<name>`` for a landed Parquet file of the raw folder, else ``schema.table``
                        in the warehouse (``marts.fct_sessions``, ``ml.ml_customer_lifetime_value``).
    ``columns``         column -> declared type (a family such as ``number`` or an exact DuckDB type);
                        each must exist and have that type.
    ``checks``          RowChecks and TableChecks (nested tuples are flattened).
    ``batch_by``        a timestamp or date column: batches are ranges of whole days of it.
    ``sample_columns``  columns shown with each bad value (usually the key).
    ``derive``          optional function adding computed columns to each batch (``derived_columns``),
                        for rules pandas checks better than SQL (parsing JSON, say).
    """

    table: str
    columns: Mapping[str, str]
    checks: tuple = ()
    batch_by: str | None = None
    sample_columns: tuple[str, ...] = ()
    derive: Any = None
    derived_columns: tuple[str, ...] = ()
    description: str = ""
    flat_checks: tuple[Check, ...] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "flat_checks", tuple(_flatten(self.checks)))
        for c in self.flat_checks:
            if c.severity not in SEVERITIES:
                raise ValueError(f"{self.table}: severity must be one of {SEVERITIES}, got {c.severity!r}")

    @property
    def source(self) -> str:
        return "raw" if self.table.startswith("raw.") else "warehouse"

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]


def _flatten(items: Iterable) -> Iterable[Check]:
    for item in items:
        if isinstance(item, RowCheck | TableCheck):
            yield item
        else:
            yield from _flatten(item)


def _columns_of(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    cols += list(kwargs.get("column_list", ()))
    return tuple(cols)


# ---------------------------------------------------------------------------------------------
# Row checks: one GX expectation each, validated batch by batch.

@dataclass(frozen=True)
class RowsWhere:
    """A row condition: the check applies only to the rows where ``column == value``
    (becomes GX's ``row_condition=Column(column) == value``)."""

    column: str
    value: Any

    def __str__(self) -> str:
        return f"{self.column} == {self.value!r}"


def not_null(*columns: str, when: tuple[str, Any] | None = None, severity: str = ERROR) -> tuple[RowCheck, ...]:
    """Every value is present; with ``when=(column, value)`` only on the rows where column == value."""
    extra = {"row_condition": RowsWhere(*when)} if when else {}
    needs = (when[0],) if when else ()
    return tuple(RowCheck("expect_column_values_to_not_be_null", {"column": c, **extra}, severity, needs=needs)
                 for c in columns)


def is_null(column: str, severity: str = ERROR, notes: str | None = None, *,
            when: tuple[str, Any] | None = None) -> RowCheck:
    """Every value is missing (used on derived "problem" columns: a value there names the problem); with
    ``when=(column, value)`` only on the rows where column == value."""
    extra = {"row_condition": RowsWhere(*when)} if when else {}
    needs = (when[0],) if when else ()
    return RowCheck("expect_column_values_to_be_null", {"column": column, **extra}, severity, notes, needs=needs)


def in_set(column: str, values: Iterable[Any], severity: str = ERROR) -> RowCheck:
    """Every non-missing value is one of ``values``."""
    return RowCheck("expect_column_values_to_be_in_set", {"column": column, "value_set": list(values)}, severity)


def between(column: str, min_value: Any = None, max_value: Any = None, *, strict_min: bool = False,
            strict_max: bool = False, severity: str = ERROR, notes: str | None = None) -> RowCheck:
    """Every non-missing value lies in the range (inclusive unless ``strict_*``)."""
    kwargs: dict[str, Any] = {"column": column}
    if min_value is not None:
        kwargs["min_value"] = min_value
        if strict_min:
            kwargs["strict_min"] = True
    if max_value is not None:
        kwargs["max_value"] = max_value
        if strict_max:
            kwargs["strict_max"] = True
    return RowCheck("expect_column_values_to_be_between", kwargs, severity, notes)


def matches(column: str, regex: str, severity: str = ERROR) -> RowCheck:
    """Every non-missing value matches the regular expression."""
    return RowCheck("expect_column_values_to_match_regex", {"column": column, "regex": regex}, severity)


def not_before(later: str, earlier: str, severity: str = ERROR) -> RowCheck:
    """``later >= earlier`` on every row where both are present."""
    return RowCheck("expect_column_pair_values_a_to_be_greater_than_b",
                    {"column_A": later, "column_B": earlier, "or_equal": True,
                     "ignore_row_if": "either_value_is_missing"}, severity)


def plausible_time(*columns: str, severity: str = ERROR) -> tuple[RowCheck, ...]:
    """Not before 1970-01-01 (the staging layer's default plausible range) and not more than a day after
    the run's as-of time (a future timestamp means a wrong clock or a wrong unit)."""
    return tuple(between(c, MIN_PLAUSIBLE_AT, AS_OF_PLUS_ONE_DAY, severity=severity) for c in columns)


# ---------------------------------------------------------------------------------------------
# Table checks: computed in DuckDB over the whole table, validated by GX on the result frame.

def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def unique(*columns: str, severity: str = ERROR) -> TableCheck:
    """No two rows share the key. DuckDB selects the rows whose key occurs more than once; GX's
    ``expect_column_values_to_be_unique`` (``expect_compound_columns_to_be_unique`` for a compound
    key) runs on them, so it flags exactly the rows it would flag on the whole table."""
    cols = ", ".join(_q(c) for c in columns)
    present = " and ".join(f"{_q(c)} is not null" for c in columns)
    sql = (f"select {', '.join('t.' + _q(c) for c in columns)} from {{table}} as t inner join ("
           f"select {cols} from {{table}} where {present} group by all having count(*) > 1) as d "
           f"using ({cols}) order by {cols}")
    notes = "Rows whose key repeats, selected in DuckDB over the whole table."
    if len(columns) == 1:
        return TableCheck(f"unique_{columns[0]}", "expect_column_values_to_be_unique", {"column": columns[0]},
                          sql, columns, sample_column=columns[0], severity=severity, notes=notes)
    return TableCheck("unique_" + "_".join(columns), "expect_compound_columns_to_be_unique",
                      {"column_list": list(columns)}, sql, columns, sample_column=None, severity=severity,
                      notes=notes)


def references(column: str, other: str, other_column: str | None = None, severity: str = ERROR) -> TableCheck:
    """Every non-missing ``column`` value exists as ``other_column`` of table ``other``.

    DuckDB selects the rows with no match; the frame holds the value and the matched key (always
    missing there), and GX's ``expect_column_pair_values_to_be_equal`` flags each such row."""
    other_column = other_column or column
    matched = f"{other.split('.', 1)[1]}_{other_column}"
    sql = (f"select t.{_q(column)}, o.{_q(other_column)} as {_q(matched)} "
           f"from {{table}} as t left join (select distinct {_q(other_column)} from {{other}}) as o "
           f"on t.{_q(column)} = o.{_q(other_column)} "
           f"where t.{_q(column)} is not null and o.{_q(other_column)} is null order by 1")
    rule = f"{column}_in_{other.split('.', 1)[1]}" + (f"_{other_column}" if other_column != column else "")
    return TableCheck(rule, "expect_column_pair_values_to_be_equal",
                      {"column_A": column, "column_B": matched, "ignore_row_if": "both_values_are_missing"},
                      sql, (column,), sample_column=column, other=other, other_columns=(other_column,),
                      severity=severity,
                      notes=f"Rows whose {column} has no match in {other}.{other_column} (a left join in DuckDB).")


def group_between(group_by: str, aggregate: str, column: str, alias: str, min_value: float, max_value: float,
                  severity: str = ERROR) -> TableCheck:
    """``aggregate(column)`` per ``group_by`` lies in [min_value, max_value], e.g. each decision's arm
    probabilities sum to 1. DuckDB selects the groups outside the range; GX's
    ``expect_column_values_to_be_between`` on ``alias`` flags each of them (sample values: the groups)."""
    g, expression = _q(group_by), f"{aggregate}({_q(column)})"
    sql = (f"select {g}, {expression} as {_q(alias)} from {{table}} where {g} is not null group by {g} "
           f"having not ({expression} between {min_value!r} and {max_value!r}) order by {g}")
    return TableCheck(f"{alias}_per_{group_by}", "expect_column_values_to_be_between",
                      {"column": alias, "min_value": min_value, "max_value": max_value}, sql, (group_by, column),
                      sample_column=group_by, severity=severity, column_label=column,
                      population_sql=f"select count(distinct {g}) from {{table}}", unit=f"{group_by} values",
                      notes=f"{alias} = {aggregate}({column}) per {group_by}, computed in DuckDB; "
                            "the frame holds the groups outside the range.")


def row_count_at_least(n: int = 1, severity: str = WARNING) -> TableCheck:
    """The table holds at least ``n`` rows (an empty table is normal for an optional input, hence a warning)."""
    return TableCheck("row_count", "expect_column_values_to_be_between", {"column": "row_count", "min_value": n},
                      "select count(*) as row_count from {table}", (), sample_column="row_count",
                      severity=severity)
