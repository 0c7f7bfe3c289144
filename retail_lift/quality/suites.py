"""The quality suites: what is checked on every table, in one place.

Each ``TableSuite`` names a table, the columns (and types) it must have, and its checks. Checks are
errors unless they say ``severity=WARNING``: an error fails ``retail-lift check``, a warning is only
reported. The building blocks (``not_null``, ``in_set``, ``between``, ``unique``, ``references``...)
are in ``retail_lift.quality.checks``; each is one Great Expectations expectation.

Three groups:

* ``RAW_SUITES``: every raw table as landed by ``retail-lift prepare`` (``raw.<table>``, read from
  the Parquet files of the raw folder), with the columns, types, required columns, keys and value sets
  (``Column.domain``, checked with ``in_domain``) of ``retail_lift.contract``: no value set is listed here.
  Which checks are Great Expectations' and which dbt's: docs/data-quality.md.
* ``WAREHOUSE_SUITES`` and ``DECISION_SUITES``: the marts and scored tables of the warehouse. A
  table that does not exist (yet) is reported as skipped, with a warning. For tables built elsewhere
  in the project, only the columns the checks read are declared.
* ``convention_suite``: a table of the ``ml`` schema (or ``marts``) that has no suite here gets
  checks by column name (propensities in (0, 1], probabilities in [0, 1], uplift in [-1, 1]).

To add a table: append a ``TableSuite`` to ``WAREHOUSE_SUITES``. Give ``batch_by`` (a timestamp or
date column) to a table that can grow past a few hundred thousand rows.

Raw tables under ``make build``: ``retail-lift check --raw-as-warnings`` reports the raw layer's failed
checks as warnings, since staging quarantines every row that breaks the contract (and
``marts.rpt_quarantine_summary`` counts them); the warehouse's clean tables keep their errors.

Severity, in short: an error is a value downstream code would compute wrong with (a negative amount,
a propensity of 0, a duplicate key, an orphan foreign key, probabilities that do not sum to 1); a
warning is a value worth a look that the models cope with (an unknown device, an order without
amount, a product sold below cost, a foreign key into an optional table).
"""

from __future__ import annotations

import re

from retail_lift.contract import DEVICES, TABLES, column
from retail_lift.quality.checks import (
    WARNING,
    TableSuite,
    between,
    group_between,
    in_set,
    is_null,
    matches,
    not_before,
    not_null,
    plausible_time,
    references,
    row_count_at_least,
    unique,
)
from retail_lift.quality.derived import (
    CLV_COLUMNS,
    DECISION_COLUMNS,
    EVENT_COLUMNS,
    PROBABILITY_TOLERANCE,
    clv_columns,
    decision_columns,
    event_columns,
)

#: variant:weight pairs, e.g. control:1,email_10pct:1
PLANNED_SPLIT = r"^[A-Za-z0-9_.-]+:[0-9]+(?:\.[0-9]+)?(?:,[A-Za-z0-9_.-]+:[0-9]+(?:\.[0-9]+)?)*$"


def contract_columns(name: str) -> dict[str, str]:
    """The raw table's columns with their contract types (exact DuckDB types)."""
    return {c.name: c.type for c in TABLES[name].columns}


def in_domain(table: str, col: str, severity: str | None = None):
    """The raw column's values lie in its contract domain (``Column.domain``): the value sets are the contract's."""
    values = column(table, col).domain
    if not values:
        raise ValueError(f"contract column {table}.{col} has no domain")
    return in_set(col, values) if severity is None else in_set(col, values, severity=severity)


def required(name: str) -> tuple[str, ...]:
    return tuple(TABLES[name].required_columns)


def key(name: str) -> tuple[str, ...]:
    return TABLES[name].primary_key


RAW_SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        "raw.events", contract_columns("events"), batch_by="event_at", sample_columns=("visitor_id", "event_at"),
        derive=event_columns, derived_columns=EVENT_COLUMNS,
        checks=(
            row_count_at_least(1),
            # any event name is accepted (the seed event_roles maps it to a role); only the product roles
            # (product_view, add_to_cart) need a product_id, page events may have none
            not_null(*(c for c in required("events") if c != "product_id")),
            not_null("product_id", when=("product_id_required", "yes"), severity=WARNING),
            is_null("unknown_event_name", severity=WARNING,
                    notes="Event names the seed event_roles does not know: kept with the role other (add a row "
                          "to seeds/event_roles.csv to give them a role)."),
            in_domain("events", "device", severity=WARNING),
            plausible_time("event_at"),
            # a purchase without transaction_id is kept (sessions, funnels) but cannot become an order
            not_null("transaction_id", when=("event_role", "purchase"), severity=WARNING),
            references("product_id", "raw.products", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.orders", contract_columns("orders"), batch_by="ordered_at", sample_columns=key("orders"),
        checks=(
            row_count_at_least(1),
            not_null("order_id", "customer_id", "ordered_at"),
            # orders derived from events without prices have no amount: worth a look, not wrong
            not_null("amount", severity=WARNING),
            unique("order_id"),
            between("amount", 0),
            between("discount_amount", 0),
            in_domain("orders", "channel"),
            plausible_time("ordered_at"),
            not_null("store_id", when=("channel", "store"), severity=WARNING),
            references("customer_id", "raw.customers"),
            references("store_id", "raw.stores", severity=WARNING),
            references("promotion_id", "raw.promotions", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.order_lines", contract_columns("order_lines"), sample_columns=key("order_lines"),
        checks=(
            not_null(*required("order_lines")),
            unique("order_id", "line_number"),
            between("line_number", 1),
            between("quantity", 1),
            between("unit_price", 0),
            between("discount_amount", 0),
            references("order_id", "raw.orders"),
            references("product_id", "raw.products", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.customers", contract_columns("customers"), sample_columns=key("customers"),
        checks=(
            not_null("customer_id"),
            unique("customer_id"),
            unique("visitor_id", severity=WARNING),
            in_domain("customers", "age_band", severity=WARNING),
            in_domain("customers", "gender", severity=WARNING),
            in_domain("customers", "acquisition_channel", severity=WARNING),
            in_domain("customers", "device_preference", severity=WARNING),
            plausible_time("signed_up_at"),
        ),
    ),
    TableSuite(
        "raw.products", contract_columns("products"), sample_columns=key("products"),
        checks=(
            not_null("product_id"),
            unique("product_id"),
            between("price", 0),
            between("unit_cost", 0),
            not_before("price", "unit_cost", severity=WARNING),  # sold at a loss?
            plausible_time("launched_at"),
            references("category_id", "raw.categories", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.categories", contract_columns("categories"), sample_columns=key("categories"),
        checks=(
            not_null("category_id"),
            unique("category_id"),
            references("parent_category_id", "raw.categories", "category_id", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.stores", contract_columns("stores"), sample_columns=key("stores"),
        checks=(
            not_null("store_id"),
            unique("store_id"),
            plausible_time("opened_at", severity=WARNING),  # old shops predate 1970
        ),
    ),
    TableSuite(
        "raw.promotions", contract_columns("promotions"), sample_columns=key("promotions"),
        checks=(
            not_null("promotion_id"),
            unique("promotion_id"),
            in_domain("promotions", "channel", severity=WARNING),
            between("discount_rate", 0, 1),
            between("contact_cost", 0),
            plausible_time("launched_at"),
        ),
    ),
    TableSuite(
        "raw.experiments", contract_columns("experiments"), sample_columns=key("experiments"),
        checks=(
            not_null(*required("experiments")),
            unique("experiment_id"),
            not_before("ended_at", "started_at"),
            plausible_time("started_at", "ended_at"),
            between("attribution_days", 1, 365),
            matches("planned_split", PLANNED_SPLIT),
            references("control_variant", "raw.promotions", "promotion_id", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.experiment_assignments", contract_columns("experiment_assignments"), batch_by="assigned_at",
        sample_columns=key("experiment_assignments"),
        checks=(
            not_null(*required("experiment_assignments")),
            unique("experiment_id", "customer_id"),
            plausible_time("assigned_at"),
            references("experiment_id", "raw.experiments"),
            references("customer_id", "raw.customers"),
            references("variant", "raw.promotions", "promotion_id", severity=WARNING),
        ),
    ),
    TableSuite(
        "raw.decisions", contract_columns("decisions"), batch_by="decided_at", sample_columns=key("decisions"),
        derive=decision_columns, derived_columns=DECISION_COLUMNS,
        checks=(
            not_null(*required("decisions")),
            unique("decision_id"),
            plausible_time("decided_at"),
            between("propensity", 0, 1, strict_min=True),  # off-policy estimators divide by it
            is_null("action_probabilities_problem",
                    notes="Parsed in pandas: a JSON object of arm -> probability in [0, 1] that has the chosen arm."),
            between("action_probabilities_sum", 1 - PROBABILITY_TOLERANCE, 1 + PROBABILITY_TOLERANCE,
                    notes=f"Sum of the parsed action_probabilities (tolerance {PROBABILITY_TOLERANCE})."),
            between("propensity_minus_chosen_arm_probability", -PROBABILITY_TOLERANCE, PROBABILITY_TOLERANCE,
                    notes="propensity must be the chosen arm's probability in action_probabilities."),
            is_null("context_problem", notes="Parsed in pandas: the context must be a JSON object."),
            references("customer_id", "raw.customers"),
            references("promotion_id", "raw.promotions"),
        ),
    ),
)




WAREHOUSE_SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        "marts.fct_sessions",
        {
            "session_id": "string", "visitor_id": "string", "customer_id": "string",
            "landing_product_id": "string", "device": "string", "visitor_session_number": "integer",
            "events": "integer", "page_views": "integer", "views": "integer", "carts": "integer",
            "purchases": "integer",
            "duration_seconds": "number", "is_converted": "boolean", "session_started_at": "timestamp",
            "session_ended_at": "timestamp", "session_date": "date",
        },
        batch_by="session_started_at", sample_columns=("session_id",),
        checks=(
            row_count_at_least(1),
            not_null("session_id", "visitor_id", "session_started_at", "session_ended_at"),
            unique("session_id"),
            in_set("device", (*DEVICES, "unknown")),
            between("events", 1),
            between("page_views", 0), between("views", 0), between("carts", 0), between("purchases", 0),
            between("visitor_session_number", 1),
            between("duration_seconds", 0),
            not_before("session_ended_at", "session_started_at"),
            plausible_time("session_started_at", "session_ended_at"),
            references("customer_id", "raw.customers"),
        ),
    ),
    TableSuite(
        "marts.fct_customer_ltv_inputs",
        {
            "customer_id": "string", "frequency": "integer", "recency": "integer", "T": "integer",
            "monetary_value": "number", "total_amount": "number", "cost_of_goods": "number",
            "first_purchase_date": "date",
            "last_purchase_date": "date", "snapshot_date": "date",
        },
        sample_columns=("customer_id",),
        checks=(
            row_count_at_least(1),
            not_null("customer_id", "frequency", "recency", "T"),
            unique("customer_id"),
            between("frequency", 0), between("recency", 0), between("T", 0),
            between("monetary_value", 0), between("total_amount", 0), between("cost_of_goods", 0),
            not_before("T", "recency"),
            not_before("last_purchase_date", "first_purchase_date"),
            not_before("snapshot_date", "last_purchase_date"),
            references("customer_id", "raw.customers"),
        ),
    ),
    TableSuite(
        "ml.ml_customer_lifetime_value",
        {
            "customer_id": "string", "frequency": "number", "recency": "number", "T": "number",
            "monetary_value": "number", "expected_purchases_365d": "number", "probability_alive": "number",
            "expected_avg_spend": "number", "clv_revenue_12m": "number", "clv_margin_12m": "number",
            "clv_12m": "number", "clv_status": "string",
        },
        sample_columns=("customer_id",),
        # the purchase model's part of clv_status: expected purchases and P(alive) are present exactly when it
        # is "ok" (a table whose status says "purchase model not estimable" has them NULL, by design)
        derive=clv_columns, derived_columns=CLV_COLUMNS,
        checks=(
            row_count_at_least(1),
            not_null("customer_id"),
            not_null("expected_purchases_365d", "probability_alive", when=("purchase_model_status", "ok")),
            is_null("expected_purchases_365d", when=("purchase_model_status", "not estimable")),
            is_null("probability_alive", when=("purchase_model_status", "not estimable")),
            unique("customer_id"),
            between("probability_alive", 0, 1),
            between("expected_purchases_365d", 0),
            between("expected_avg_spend", 0),
            between("clv_revenue_12m", 0),
            between("clv_12m", 0),
            not_null("clv_status"),
            references("customer_id", "marts.fct_customer_ltv_inputs"),
        ),
    ),
)

#: Decisions, experiments: tables other parts of the warehouse (off-policy evaluation, reporting)
#: divide by or act on. Only the columns the checks read are declared.
DECISION_SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        "marts.fct_decision_ledger",
        {"decision_id": "string", "customer_id": "string", "promotion_id": "string", "propensity": "number",
         "decided_at": "timestamp", "window_ends_at": "timestamp", "first_order_at": "timestamp",
         "is_pending": "boolean", "orders": "integer", "revenue": "number", "hour": "integer"},
        batch_by="decided_at", sample_columns=("decision_id",),
        checks=(
            row_count_at_least(1),
            not_null("decision_id", "customer_id", "promotion_id", "propensity", "decided_at", "is_pending"),
            unique("decision_id"),
            between("propensity", 0, 1, strict_min=True),
            between("orders", 0), between("revenue", 0), between("hour", 0, 23),
            not_before("window_ends_at", "decided_at"),
            not_before("first_order_at", "decided_at"),
            plausible_time("decided_at"),
            references("customer_id", "raw.customers", severity=WARNING),
            references("promotion_id", "raw.promotions", severity=WARNING),
        ),
    ),
    TableSuite(
        "marts.fct_decision_arm_probabilities",
        {"decision_id": "string", "promotion_id": "string", "action_probability": "number",
         "is_chosen": "boolean", "decided_at": "timestamp"},
        batch_by="decided_at", sample_columns=("decision_id", "promotion_id"),
        checks=(
            not_null("decision_id", "promotion_id", "action_probability", "is_chosen"),
            unique("decision_id", "promotion_id"),
            between("action_probability", 0, 1),
            group_between("decision_id", "sum", "action_probability", "action_probability_sum",
                          1 - PROBABILITY_TOLERANCE, 1 + PROBABILITY_TOLERANCE),
            group_between("decision_id", "count_if", "is_chosen", "chosen_arms", 1, 1),
            between("action_probability", 0, 1, strict_min=True, severity=WARNING),  # an arm never shown
        ),
    ),
    TableSuite(
        "ml.ml_experiment_results",
        {"experiment_id": "string", "variant": "string", "metric_name": "string", "control_users": "integer",
         "variant_users": "integer", "effect": "number", "effect_ci_low": "number", "effect_ci_high": "number",
         "p_value": "number", "p_value_adjusted": "number", "prob_beat_control": "number",
         "srm_p_value": "number", "decision": "string"},
        sample_columns=("experiment_id", "variant", "metric_name"),
        checks=(
            row_count_at_least(1),
            not_null("experiment_id", "variant", "metric_name", "decision"),
            unique("experiment_id", "variant", "metric_name"),
            between("control_users", 0), between("variant_users", 0),
            between("p_value", 0, 1), between("p_value_adjusted", 0, 1), between("srm_p_value", 0, 1),
            between("prob_beat_control", 0, 1),
            not_before("p_value_adjusted", "p_value"),  # a multiple-testing adjustment never lowers a p-value
            not_before("effect", "effect_ci_low", severity=WARNING),
            not_before("effect_ci_high", "effect", severity=WARNING),
            in_set("decision", ("ship", "do not ship", "keep running", "invalid: SRM")),
            references("experiment_id", "raw.experiments"),
        ),
    ),
)

SUITES: tuple[TableSuite, ...] = RAW_SUITES + WAREHOUSE_SUITES + DECISION_SUITES

#: Schemas whose tables without a suite above get checks by column-name convention.
CONVENTION_SCHEMAS = ("ml", "marts")

_PROPENSITY = re.compile(r"(^|_)propensit(y|ies)($|_)")
_PROBABILITY = re.compile(r"(^|_)(probability|prob|p_value)($|_)|^p_")
_UPLIFT = re.compile(r"(^|_)uplift($|_)")
#: money, counts and statistics that may share a word with the above but are not rates
_NOT_A_RATE = re.compile(r"revenue|amount|margin|profit|spend|cost|clv|monetary|count|users|rank|decile|quantile"
                         r"|percentile|bucket|_se$|stderr")


def convention_checks(columns: dict[str, str]) -> list:
    """Range checks implied by column names (numeric columns only), errors unless noted:
    ``*propensity*`` in [0, 1] (and > 0, a warning); ``*probability*``, ``prob``, ``p_*``, ``*p_value*``
    in [0, 1]; ``*uplift*`` in [-1, 1]. Names that read as money or counts (revenue, cost, users...) are
    left alone."""
    checks = []
    for col, dtype in columns.items():
        name = col.lower()
        if not any(t in dtype.upper() for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL")):
            continue
        if _NOT_A_RATE.search(name):
            continue
        if _PROPENSITY.search(name):
            # a logging propensity is in (0, 1]; a target policy's may be 0, so the strict bound only warns
            checks.append(between(col, 0, 1))
            checks.append(between(col, 0, 1, strict_min=True, severity=WARNING))
        elif _PROBABILITY.search(name):
            checks.append(between(col, 0, 1))
        elif _UPLIFT.search(name):
            checks.append(between(col, -1, 1))
    return checks


def convention_suite(table: str, columns: dict[str, str]) -> TableSuite:
    """Checks for a table that has no suite of its own: ranges by column name (none when no column
    name implies one; an empty table is not flagged, as some reports are empty on good data)."""
    return TableSuite(table, {}, checks=tuple(convention_checks(columns)),
                      description="no suite of its own: checked by column-name conventions")


def suite_for(table: str) -> TableSuite | None:
    return next((s for s in SUITES if s.table == table), None)
