"""Loader for Segment ``track`` and ``page`` calls (JSON lines as Segment's S3 / warehouse exports write them,
or Parquet with the same nested fields).

Fields used:

* ``type``: ``page`` calls become events named ``page``; ``track`` calls keep their ``event`` name (the
  e-commerce spec's Product Viewed, Product Added, Cart Viewed, Checkout Started, Payment Info Entered,
  Order Completed, ... are in the seed ``event_roles.csv``). ``identify`` calls are not events: they only
  link a ``userId`` to an ``anonymousId`` for ``customers``. Other calls (``screen``, ``group``, ``alias``)
  are skipped and counted in the report.
* ``timestamp`` (ISO 8601 with an offset or ``Z``) -> ``events.event_at``, converted to UTC
* ``anonymousId`` -> ``events.visitor_id`` (``userId`` when a call has no anonymousId, as server-side calls);
  ``userId`` -> ``customers.customer_id`` with the first ``anonymousId`` seen with it as ``visitor_id``
* ``context.device.type`` -> ``events.device`` (ios, android, mobile -> mobile; tablet, ipad -> tablet;
  desktop, web -> desktop; NULL otherwise)
* ``properties.product_id`` (else ``properties.sku``) -> ``events.product_id``; a call with a
  ``properties.products`` array becomes one event per product (Order Completed, Checkout Started, Cart Viewed)
* ``Order Completed`` with ``properties.order_id`` -> ``orders`` (amount = ``properties.total``, the amount
  paid, else ``properties.revenue``; customer = ``userId``, else the visitor) and its products -> ``order_lines``
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
from retail_lift.adapters.prepare import RawDataError

_PRODUCT = "product_id VARCHAR, sku VARCHAR, name VARCHAR, category VARCHAR, price VARCHAR, quantity VARCHAR"
PRODUCT_FIELDS = ("product_id", "sku", "name", "category", "price", "quantity")
SEGMENT_JSON_COLUMNS = {
    "type": "VARCHAR",
    "event": "VARCHAR",
    "anonymousId": "VARCHAR",
    "userId": "VARCHAR",
    "timestamp": "VARCHAR",
    "properties": f"STRUCT({_PRODUCT}, order_id VARCHAR, revenue VARCHAR, total VARCHAR, "
                  f"products STRUCT({_PRODUCT})[])",
    "context": "STRUCT(device STRUCT(type VARCHAR))",
}
ORDER_COMPLETED = "Order Completed"


def load_segment(inputs, out_dir: str | Path, log=print) -> LoadReport:
    """Convert Segment track/page calls (file, folder or glob; NDJSON or Parquet) into a contract folder."""
    with export_load(inputs, out_dir, "Segment", SEGMENT_JSON_COLUMNS, log) as (r, out, report):
        con = r.con
        products = r.raw("properties.products")
        if products is not None:
            products_sql_expr = r.list_fields(products, PRODUCT_FIELDS)
        else:
            products_sql_expr = f"cast(null as struct({_PRODUCT})[])"
        r.execute(f"""
            create temp table sg as
            select row_number() over () as rn, filename,
                   lower({r.text('type')}) as type,
                   {r.text('event')} as event,
                   {r.text('anonymousId')} as anonymous_id,
                   {r.text('userId')} as user_id,
                   {r.text('timestamp')} as ts,
                   coalesce({r.text('properties.product_id')}, {r.text('properties.sku')}) as product_id,
                   {r.text('properties.name')} as product_name,
                   {r.text('properties.category')} as category,
                   {r.text('properties.price')} as price,
                   {r.text('properties.order_id')} as order_id,
                   {r.text('properties.total')} as total,
                   {r.text('properties.revenue')} as revenue,
                   {device_sql(r.text('context.device.type'))} as device,
                   {products_sql_expr} as products
            from {r.relation}""")
        r.check_required("sg", {"type": "type", "timestamp": "ts",
                                "anonymousId or userId": "coalesce(anonymous_id, user_id)"}, "Segment")
        bad = con.execute("select filename, count(*) from sg where type = 'track' group by filename "
                          "having count(event) = 0 order by filename").fetchall()
        if bad:
            raise RawDataError(f"{bad[0][0]}: missing required field 'event' (absent or empty in all {bad[0][1]:,} "
                               f"track calls); a Segment track call needs type, event, timestamp and anonymousId "
                               f"or userId")
        con.execute("""
            create temp table sg_calls as
            select *, case when type = 'page' then 'page' else event end as event_name,
                   coalesce(anonymous_id, user_id) as visitor_id, rl_iso_utc(ts) as event_at,
                   epoch_us(cast(try_cast(ts as timestamptz) as timestamp)) as ts_us
            from sg""")
        skipped = con.execute("select coalesce(type, '(none)'), count(*) from sg_calls "
                              "where type is distinct from 'track' and type is distinct from 'page' "
                              "group by 1 order by 1").fetchall()
        if skipped:
            report.notes.append("not events, skipped: " + ", ".join(f"{n:,} {t}" for t, n in skipped)
                                + " call(s) (identify calls link userId and anonymousId for customers)")
        con.execute("""
            create temp table sg_items as
            select rn, ts_us, event_name, order_id, item_index,
                   coalesce(item.product_id, item.sku) as product_id, item.name as product_name,
                   item.category as category, item.price as price, item.quantity as quantity
            from (select rn, ts_us, event_name, order_id, unnest(products) as item,
                         generate_subscripts(products, 1) as item_index
                  from sg_calls where type in ('track', 'page') and len(products) > 0)""")
        report.tables["events"] = write_parquet(con, f"""
            select e.event_at, e.visitor_id, e.event_name as event_type,
                   coalesce(i.product_id, e.product_id) as product_id,
                   case when e.event_name in ('{ORDER_COMPLETED}', 'Order Refunded') then e.order_id end
                       as transaction_id,
                   e.device
            from sg_calls as e left join sg_items as i on i.rn = e.rn
            where e.type in ('track', 'page')
            order by e.rn, i.item_index""", out / "events.parquet")
        con.execute(f"""
            create temp table sg_orders as
            select * from sg_calls where type = 'track' and event = '{ORDER_COMPLETED}' and order_id is not null
            qualify row_number() over (partition by order_id order by ts_us, rn) = 1""")
        report.tables["orders"] = write_parquet(con, """
            select o.order_id, coalesce(o.user_id, o.visitor_id) as customer_id, o.event_at as ordered_at,
                   coalesce(o.total, o.revenue, cast(t.items_total as varchar)) as amount,
                   cast(null as varchar) as discount_amount, 'online' as channel,
                   cast(null as varchar) as store_id, cast(null as varchar) as promotion_id
            from sg_orders as o
            left join (select rn, sum(try_cast(price as double) * coalesce(try_cast(quantity as double), 1))
                              as items_total from sg_items group by rn) as t on t.rn = o.rn
            order by o.ts_us, o.rn""", out / "orders.parquet")
        no_amount = con.execute("select count(*) from sg_orders where total is null and revenue is null"
                                ).fetchall()[0][0]
        if no_amount:
            report.notes.append(f"{no_amount:,} Order Completed call(s) without total or revenue: amount = sum of "
                                f"product price x quantity")
        report.tables["order_lines"] = write_parquet(con, """
            select i.order_id, cast(i.item_index as integer) as line_number, i.product_id,
                   coalesce(i.quantity, '1') as quantity, i.price as unit_price,
                   cast(null as varchar) as discount_amount
            from sg_items as i join sg_orders as o on o.rn = i.rn
            order by o.ts_us, o.rn, i.item_index""", out / "order_lines.parquet")
        report.tables["customers"] = write_parquet(con, customers_sql(
            "select user_id as customer_id, "
            "arg_min(anonymous_id, coalesce(ts_us, -1)) filter (where anonymous_id is not null) as visitor_id "
            "from sg_calls where user_id is not null group by user_id",
            "select visitor_id as customer_id, visitor_id from sg_orders where user_id is null"),
            out / "customers.parquet")
        report.tables["products"] = write_parquet(con, products_sql(
            "select product_id, category as category_id, product_name, price, coalesce(ts_us, -1) as seen_at "
            "from sg_items union all "
            "select product_id, category, product_name, price, coalesce(ts_us, -1) from sg_calls "
            "where type in ('track', 'page')"), out / "products.parquet")
    return report
