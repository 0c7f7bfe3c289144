"""The raw-data contract: which tables Retail Lift reads, their columns, types and meaning.

This module is the single source of truth for the raw layer. The generator writes these tables,
``retail-lift prepare`` checks a user's folder against them, and the README and the dbt sources
describe the same columns.

Types are DuckDB types. Identifiers are strings (``string`` in dbt), so that real data with
alphanumeric keys fits without conversion.

Only ``events`` or ``orders`` is required. A table that is absent is written as an empty file with
the contract's columns (its models build empty), or derived from the others where possible
(``customers`` from orders and events, ``products`` from order lines and events, ``categories``
from products).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = True  # must be present in a user's file (optional columns are filled with NULL)
    #: The values the column may take (lower case, as staging compares them), empty when any value goes. A value
    #: outside the domain is kept; dbt's accepted-values tests and the raw Great Expectations suite report it.
    domain: tuple[str, ...] = ()

    @property
    def doc(self) -> str:
        """The column's full description: its meaning and its domain."""
        if self.domain:
            return self.description + " One of: " + ", ".join(self.domain) + "."
        return self.description


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


C = Column

#: Domains of the contract's columns (``Column.domain``): the only place where these values are listed.
DEVICES = ("desktop", "mobile", "tablet")
ORDER_CHANNELS = ("online", "store")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("female", "male", "other")
ACQUISITION_CHANNELS = ("facebook", "organic_search", "store", "email", "referral")
PROMOTION_CHANNELS = ("email", "banner", "popup", "none")
UPLIFT_TYPES = ("persuadable", "sure_thing", "lost_cause", "do_not_disturb")
EXPOSURE_KINDS = ("experiment", "decision")

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "events",
            "Web clickstream, one row per event: any event names (RetailRocket view/addtocart/transaction, GA4, "
            "Segment, page events); the seed event_roles maps each name to a role.",
            (
                C("event_at", "TIMESTAMP", "When the event happened (UTC)."),
                C("visitor_id", "VARCHAR", "Anonymous visitor (browser) identifier."),
                C("event_type", "VARCHAR", "Any name; the seed event_roles maps it to a role (unknown names: other)."),
                C("product_id", "VARCHAR", "The product viewed, added to cart or bought; may be NULL for events that "
                  "are not about one product (page views, search, checkout); a column the export may lack.",
                  required=False),
                C("transaction_id", "VARCHAR", "Order id of purchase events, NULL otherwise (a purchase without it is "
                  "kept: it counts in sessions and funnels but cannot become an order).", required=False),
                C("device", "VARCHAR", "Device of the visit; NULL when unknown.", required=False, domain=DEVICES),
            ),
        ),
        Table(
            "orders",
            "Orders online and in store. One row per order.",
            (
                C("order_id", "VARCHAR", "Order identifier."),
                C("customer_id", "VARCHAR", "The customer who placed the order."),
                C("ordered_at", "TIMESTAMP", "When the order was placed (UTC)."),
                C("amount", "DOUBLE", "Amount paid, after discounts, in the shop's currency."),
                C("discount_amount", "DOUBLE", "Discount granted on the order.", required=False),
                C("channel", "VARCHAR", "Where the order was placed.", required=False, domain=ORDER_CHANNELS),
                C("store_id", "VARCHAR", "Store of an in-store order, NULL online.", required=False),
                C("promotion_id", "VARCHAR", "Promotion redeemed with the order, if any.", required=False),
            ),
            ("order_id",),
        ),
        Table(
            "order_lines",
            "Lines of the orders. One row per order and line number.",
            (
                C("order_id", "VARCHAR", "The order."),
                C("line_number", "INTEGER", "Position of the line within the order, from 1."),
                C("product_id", "VARCHAR", "The product bought."),
                C("quantity", "INTEGER", "Units bought."),
                C("unit_price", "DOUBLE", "List price per unit."),
                C("discount_amount", "DOUBLE", "Discount on the line.", required=False),
            ),
            ("order_id", "line_number"),
        ),
        Table(
            "customers",
            "Registered customers. One row per customer.",
            (
                C("customer_id", "VARCHAR", "Customer identifier."),
                C("visitor_id", "VARCHAR", "The web visitor id of the customer, when known.", required=False),
                C("signed_up_at", "TIMESTAMP", "When the customer registered.", required=False),
                C("age_band", "VARCHAR", "Age band of the customer.", required=False, domain=AGE_BANDS),
                C("gender", "VARCHAR", "Gender of the customer.", required=False, domain=GENDERS),
                C("region", "VARCHAR", "Home region.", required=False),
                C("acquisition_channel", "VARCHAR", "How the customer was acquired.", required=False,
                  domain=ACQUISITION_CHANNELS),
                C("follows_page", "BOOLEAN", "Follows the shop's social-media page.", required=False),
                C("heard_of_shop", "BOOLEAN", "Had heard of the shop before the first visit.", required=False),
                C("device_preference", "VARCHAR", "The device the customer uses most.", required=False, domain=DEVICES),
                C("email", "VARCHAR", "Personal data: hashed in staging, never reaches a mart.", required=False),
                C("full_name", "VARCHAR", "Personal data: hashed in staging, never reaches a mart.", required=False),
            ),
            ("customer_id",),
        ),
        Table(
            "products",
            "Product catalogue. One row per product.",
            (
                C("product_id", "VARCHAR", "Product identifier."),
                C("category_id", "VARCHAR", "Leaf category of the product.", required=False),
                C("product_name", "VARCHAR", "Display name.", required=False),
                C("price", "DOUBLE", "List price.", required=False),
                C("unit_cost", "DOUBLE", "Cost of goods per unit (price minus cost is the margin).", required=False),
                C("launched_at", "TIMESTAMP", "When the product went on sale.", required=False),
            ),
            ("product_id",),
        ),
        Table(
            "categories",
            "Two-level category tree. One row per category.",
            (
                C("category_id", "VARCHAR", "Category identifier."),
                C("parent_category_id", "VARCHAR", "Parent category, NULL for a top-level category.",
                  required=False),
                C("category_name", "VARCHAR", "Display name.", required=False),
            ),
            ("category_id",),
        ),
        Table(
            "stores",
            "Physical stores. One row per store.",
            (
                C("store_id", "VARCHAR", "Store identifier."),
                C("store_name", "VARCHAR", "Display name.", required=False),
                C("region", "VARCHAR", "Region of the store.", required=False),
                C("opened_at", "TIMESTAMP", "Opening date.", required=False),
            ),
            ("store_id",),
        ),
        Table(
            "promotions",
            "Promotion catalogue: the arms experiments and policies choose from. One row per promotion.",
            (
                C("promotion_id", "VARCHAR",
                  "Promotion identifier (an arm), e.g. email_10pct; 'control' is no promotion."),
                C("promotion_name", "VARCHAR", "Display name.", required=False),
                C("channel", "VARCHAR", "How the promotion reaches the customer.", required=False,
                  domain=PROMOTION_CHANNELS),
                C("discount_rate", "DOUBLE", "Share of the order value given as discount (0 for none).",
                  required=False),
                C("contact_cost", "DOUBLE", "Cost of one contact (sending, serving).", required=False),
                C("launched_at", "TIMESTAMP", "When the promotion became available.", required=False),
            ),
            ("promotion_id",),
        ),
        Table(
            "experiments",
            "Randomized promotion experiments. One row per experiment.",
            (
                C("experiment_id", "VARCHAR", "Experiment identifier."),
                C("experiment_name", "VARCHAR", "Display name.", required=False),
                C("started_at", "TIMESTAMP", "First assignment."),
                C("ended_at", "TIMESTAMP", "Last assignment."),
                C("control_variant", "VARCHAR", "The variant that is the control."),
                C("planned_split", "VARCHAR",
                  "Intended traffic split as variant:weight pairs, e.g. control:1,email_10pct:1."),
                C("attribution_days", "INTEGER", "Outcome window after exposure, in days."),
                # optional overrides of the experiment registry (retail_lift.experiments.registry.OVERRIDE_COLUMNS)
                C("primary_metric", "VARCHAR", "Overrides the registry: the primary metric (a metric_name of the seed "
                  "experiment_metrics).", required=False),
                C("mde_relative", "DOUBLE", "Overrides the registry: minimum detectable effect, relative to the "
                  "baseline (e.g. 0.1).", required=False),
                C("alpha", "DOUBLE", "Overrides the registry: two-sided level of the primary test.", required=False),
                C("power", "DOUBLE", "Overrides the registry: planned power at the MDE.", required=False),
                C("planned_users_per_arm", "INTEGER", "Overrides the registry: the planned users per arm, stated.",
                  required=False),
                C("baseline", "DOUBLE", "Overrides the registry: the primary metric's pre-registered baseline (rate or "
                  "mean).", required=False),
                C("baseline_sd", "DOUBLE", "Overrides the registry: the baseline's per-user standard deviation (mean "
                  "metrics).", required=False),
                C("analysis_mode", "VARCHAR", "Overrides the registry: sequential or fixed.", required=False),
                C("max_duration_days", "INTEGER", "Overrides the registry: the longest assignment period in days.",
                  required=False),
            ),
            ("experiment_id",),
        ),
        Table(
            "experiment_assignments",
            "Who saw which variant of an experiment. One row per experiment and customer.",
            (
                C("experiment_id", "VARCHAR", "The experiment."),
                C("customer_id", "VARCHAR", "The customer assigned."),
                C("variant", "VARCHAR", "The variant (a promotion id, or control)."),
                C("assigned_at", "TIMESTAMP", "When the customer was assigned and exposed."),
            ),
            ("experiment_id", "customer_id"),
        ),
        Table(
            "decisions",
            "The decision log of a promotion policy. One row per decision.",
            (
                C("decision_id", "VARCHAR", "Decision identifier."),
                C("customer_id", "VARCHAR", "The customer decided for."),
                C("decided_at", "TIMESTAMP", "When the decision was made and the promotion sent."),
                C("policy_id", "VARCHAR", "The policy (and version) that decided."),
                C("promotion_id", "VARCHAR", "The arm chosen."),
                C("propensity", "DOUBLE", "Probability with which the logging policy chose this arm, in (0, 1]."),
                C("action_probabilities", "VARCHAR",
                  "JSON object: the logging policy's probability of every arm available at that moment."),
                C("context", "VARCHAR", "JSON object: the context features the policy saw."),
            ),
            ("decision_id",),
        ),
    ]
}

#: Tables of the ground truth of the simulated world. They are written to a separate folder and
#: read only by evaluation models (``models/marts/evaluation``), never by a model that learns.
TRUTH_TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "truth_customers",
            "Latent parameters of each simulated customer. One row per customer.",
            (
                C("customer_id", "VARCHAR", "Customer."),
                C("active_from", "TIMESTAMP", "Start of the customer's activity."),
                C("active_until", "TIMESTAMP", "Churn time (activity stops); may lie after the data ends."),
                C("online_order_rate", "DOUBLE", "Organic online orders per active day."),
                C("store_order_rate", "DOUBLE", "Organic store orders per active day."),
                C("price_sensitivity", "DOUBLE", "0..1, how strongly discounts move the customer."),
                C("uplift_type", "VARCHAR", "How promotions move the customer.", domain=UPLIFT_TYPES),
                C("mean_order_value", "DOUBLE", "Expected list value of an order."),
            ),
            ("customer_id",),
        ),
        Table(
            "truth_customer_arms",
            "True response of each customer to each promotion within the attribution window. "
            "One row per customer and promotion.",
            (
                C("customer_id", "VARCHAR", "Customer."),
                C("promotion_id", "VARCHAR", "Promotion (arm), control included."),
                C("p_convert", "DOUBLE", "True probability of at least one order within the attribution window."),
                C("true_uplift", "DOUBLE", "p_convert minus the control's p_convert."),
                C("expected_revenue", "DOUBLE", "Expected revenue within the window."),
                C("is_oracle_arm", "BOOLEAN", "The arm with the highest p_convert for this customer."),
            ),
            ("customer_id", "promotion_id"),
        ),
        Table(
            "truth_exposures",
            "True response to every arm at the moment of each logged exposure (experiment assignment or "
            "policy decision), accounting for churn. One row per exposure and promotion.",
            (
                C("exposure_kind", "VARCHAR", "What logged the exposure.", domain=EXPOSURE_KINDS),
                C("exposure_id", "VARCHAR", "decision_id, or experiment_id || ':' || customer_id."),
                C("customer_id", "VARCHAR", "Customer."),
                C("promotion_id", "VARCHAR", "Promotion (arm), control included."),
                C("p_convert", "DOUBLE", "True probability of at least one order within the attribution window."),
                C("true_uplift", "DOUBLE", "p_convert minus the control's p_convert."),
                C("expected_revenue", "DOUBLE", "Expected revenue within the window."),
            ),
            ("exposure_id", "promotion_id"),
        ),
    ]
}

REQUIRED_ANY_OF = ("events", "orders")

#: Event roles: what an event name means to the funnels, journeys and features. The mapping from names to roles
#: is the seed ``seeds/event_roles.csv`` (pre-filled for RetailRocket, GA4, Snowplow, Segment and a generic
#: shop clickstream); a name that is not in it keeps its name and takes the role ``other``.
EVENT_ROLES = ("page_view", "product_view", "add_to_cart", "view_cart", "begin_checkout", "add_payment_info",
               "purchase", "search", "refund", "other")
#: Roles whose events are about one product: they need a product_id (other events may have none).
PRODUCT_ROLES = ("product_view", "add_to_cart")
#: The seed that maps event names (lower case, trimmed) to roles.
EVENT_ROLES_SEED = Path(__file__).resolve().parents[1] / "seeds" / "event_roles.csv"


def event_roles(path: str | Path | None = None) -> dict[str, str]:
    """The event-name -> role mapping of the seed (names lower case and trimmed, as staging compares them)."""
    with open(path or EVENT_ROLES_SEED, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    mapping = {r["event_name"].strip().lower(): r["role"].strip() for r in rows}
    unknown = sorted({r for r in mapping.values() if r not in EVENT_ROLES})
    if unknown:
        raise ValueError(f"{path or EVENT_ROLES_SEED}: unknown role(s) {', '.join(unknown)}; "
                         f"expected one of {', '.join(EVENT_ROLES)}")
    return mapping


def column(table: str, name: str) -> Column:
    """A column of the contract (raw or truth tables), by table and column name."""
    tables = {**TABLES, **TRUTH_TABLES}
    if table not in tables:
        raise KeyError(f"no table {table!r} in the contract (known: {', '.join(tables)})")
    for c in tables[table].columns:
        if c.name == name:
            return c
    raise KeyError(f"no column {name!r} in contract table {table!r} (columns: {', '.join(tables[table].column_names)})")


def domains() -> dict[str, dict[str, tuple[str, ...]]]:
    """Every column domain: ``{table: {column: values}}``, raw and truth tables, plus events.event_role (the roles
    the seed event_roles maps event names to)."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for t in [*TABLES.values(), *TRUTH_TABLES.values()]:
        cols = {c.name: c.domain for c in t.columns if c.domain}
        if cols:
            out[t.name] = cols
    out["events"]["event_role"] = EVENT_ROLES
    return out


def empty_select_sql(table: Table) -> str:
    """A DuckDB SELECT that yields zero rows with the table's columns and types."""
    cols = ", ".join(f"cast(null as {c.type}) as {c.name}" for c in table.columns)
    return f"select {cols} where false"
