"""Loader for the Google Analytics 4 BigQuery export (rows of the ``events_*`` tables).

Read from Parquet or newline-delimited JSON (``bq extract --destination_format NEWLINE_DELIMITED_JSON`` writes
INT64 as text; both are accepted). Fields used:

* ``event_timestamp`` (microseconds since the epoch, UTC) -> ``events.event_at`` (UTC text)
* ``event_name`` -> ``events.event_type``, as is (the seed ``event_roles.csv`` gives its role)
* ``user_pseudo_id`` -> ``events.visitor_id``; ``user_id`` -> ``customers.customer_id`` (with the customer's
  first ``user_pseudo_id`` as ``visitor_id``)
* ``device.category`` -> ``events.device`` (desktop, mobile, tablet; NULL otherwise)
* ``ecommerce.transaction_id`` -> ``events.transaction_id`` and ``orders.order_id`` (``(not set)`` is NULL)
* ``ecommerce.purchase_revenue`` -> ``orders.amount`` (when absent: the sum of item price x quantity)
* ``items[]``: ``item_id``, ``item_name``, ``item_category``, ``price``, ``quantity`` (1 when absent)

An event with items becomes one event row per item (``product_id`` = ``item_id``), an event without items one
row with ``product_id`` NULL. Every ``purchase`` with a transaction id becomes an order (the first event of a
transaction id when GA4 logged it twice; the duplicates stay in the events) with its items as order lines;
customer = ``user_id``, else ``user_pseudo_id``. Products come from the items of all events (latest category,
name and price).
"""

from __future__ import annotations

from pathlib import Path

from retail_lift.adapters._customers import customers_sql, products_sql
from retail_lift.adapters.exports import (
    LoadReport,
    device_sql,
    export_load,
    write_parquet,
)

GA4_JSON_COLUMNS = {
    "event_timestamp": "VARCHAR",
    "event_name": "VARCHAR",
    "user_pseudo_id": "VARCHAR",
    "user_id": "VARCHAR",
    "device": "STRUCT(category VARCHAR)",
    "ecommerce": "STRUCT(transaction_id VARCHAR, purchase_revenue VARCHAR)",
    "items": "STRUCT(item_id VARCHAR, item_name VARCHAR, item_category VARCHAR, price VARCHAR, quantity VARCHAR)[]",
}
ITEM_FIELDS = ("item_id", "item_name", "item_category", "price", "quantity")
REQUIRED = ("event_timestamp", "event_name", "user_pseudo_id")


def load_ga4(inputs, out_dir: str | Path, log=print) -> LoadReport:
    """Convert a GA4 export (file, folder or glob; Parquet or NDJSON) into a contract folder ``out_dir``."""
    with export_load(inputs, out_dir, "GA4", GA4_JSON_COLUMNS, log) as (r, out, report):
        con = r.con
        items = r.raw("items")
        if items is not None:
            items_sql = r.list_fields(items, ITEM_FIELDS)
        else:
            items_sql = "cast(null as struct(item_id varchar, item_name varchar, item_category varchar, " \
                        "price varchar, quantity varchar)[])"
        tx = r.text("ecommerce.transaction_id")
        r.execute(f"""
            create temp table ga as
            select row_number() over () as rn, filename,
                   {r.text('event_timestamp')} as event_timestamp,
                   {r.text('event_name')} as event_name,
                   {r.text('user_pseudo_id')} as user_pseudo_id,
                   {r.text('user_id')} as user_id,
                   {device_sql(r.text('device.category'))} as device,
                   case when {tx} in ('(not set)', '(none)') then null else {tx} end as transaction_id,
                   {r.text('ecommerce.purchase_revenue')} as purchase_revenue,
                   {items_sql} as items
            from {r.relation}""")
        r.check_required("ga", {f: f for f in REQUIRED}, "GA4")
        con.execute("""
            create temp table ga_events as
            select *, rl_epoch_us_utc(event_timestamp) as event_at,
                   try_cast(event_timestamp as bigint) as ts_us
            from ga""")
        con.execute("""
            create temp table ga_items as
            select rn, ts_us, event_name, transaction_id, item.*, item_index
            from (select rn, ts_us, event_name, transaction_id, unnest(items) as item,
                         generate_subscripts(items, 1) as item_index
                  from ga_events where len(items) > 0)""")
        report.tables["events"] = write_parquet(con, """
            select e.event_at, e.user_pseudo_id as visitor_id, e.event_name as event_type, i.item_id as product_id,
                   e.transaction_id, e.device
            from ga_events as e left join ga_items as i on i.rn = e.rn
            order by e.rn, i.item_index""", out / "events.parquet")
        # one order per transaction id: its first purchase event
        con.execute("""
            create temp table ga_orders as
            select * from ga_events
            where event_name = 'purchase' and transaction_id is not null
            qualify row_number() over (partition by transaction_id order by ts_us, rn) = 1""")
        dup = con.execute("select count(*) from ga_events where event_name = 'purchase' "
                          "and transaction_id is not null").fetchall()[0][0] - \
            con.execute("select count(*) from ga_orders").fetchall()[0][0]
        if dup:
            report.notes.append(f"{dup:,} purchase event(s) repeat a transaction id: the order is taken from the "
                                f"first; the repeats stay in the events")
        report.tables["orders"] = write_parquet(con, """
            select o.transaction_id as order_id, coalesce(o.user_id, o.user_pseudo_id) as customer_id,
                   o.event_at as ordered_at,
                   coalesce(o.purchase_revenue, cast(t.items_total as varchar)) as amount,
                   cast(null as varchar) as discount_amount, 'online' as channel, cast(null as varchar) as store_id,
                   cast(null as varchar) as promotion_id
            from ga_orders as o
            left join (select rn, sum(try_cast(price as double) * coalesce(try_cast(quantity as double), 1))
                              as items_total
                       from ga_items group by rn) as t on t.rn = o.rn
            order by o.ts_us, o.rn""", out / "orders.parquet")
        n_fallback = con.execute("select count(*) from ga_orders where purchase_revenue is null").fetchall()[0][0]
        if n_fallback:
            report.notes.append(f"{n_fallback:,} order(s) without ecommerce.purchase_revenue: amount = sum of item "
                                f"price x quantity")
        report.tables["order_lines"] = write_parquet(con, """
            select i.transaction_id as order_id, cast(i.item_index as integer) as line_number,
                   i.item_id as product_id, coalesce(i.quantity, '1') as quantity, i.price as unit_price,
                   cast(null as varchar) as discount_amount
            from ga_items as i join ga_orders as o on o.rn = i.rn
            order by o.ts_us, o.rn, i.item_index""", out / "order_lines.parquet")
        report.tables["customers"] = write_parquet(con, customers_sql(
            "select user_id as customer_id, arg_min(user_pseudo_id, coalesce(ts_us, -1)) as visitor_id "
            "from ga_events where user_id is not null group by user_id",
            "select user_pseudo_id as customer_id, user_pseudo_id as visitor_id from ga_orders where user_id is null"),
            out / "customers.parquet")
        report.tables["products"] = write_parquet(con, products_sql(
            "select item_id as product_id, item_category as category_id, item_name as product_name, price, "
            "coalesce(ts_us, -1) as seen_at from ga_items"), out / "products.parquet")
    return report
