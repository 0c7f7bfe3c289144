"""Loader for Snowplow atomic events (the enriched ``atomic.events`` table, Parquet or NDJSON).

Fields used:

* ``derived_tstamp`` (else ``collector_tstamp``) -> ``events.event_at`` (UTC; an offset or ``Z`` is converted)
* ``event_name`` -> ``events.event_type``, as is (the seed ``event_roles.csv`` gives its role)
* ``domain_userid`` -> ``events.visitor_id``; ``user_id`` -> ``customers.customer_id`` (with the user's first
  ``domain_userid`` as ``visitor_id``)
* ``dvce_ismobile`` -> ``events.device`` (mobile when true, desktop when false, NULL when unknown)
* ``transaction`` events (``tr_orderid``, ``tr_total``) become ``orders`` (customer = ``user_id``, else
  ``domain_userid``; the first event of an order id when it was sent twice) and are NOT kept as events:
  the order's ``transaction_item`` events already are its purchase events, one per item, and keeping both
  would count the purchase twice.
* ``transaction_item`` events (``ti_orderid``, ``ti_sku``, ``ti_name``, ``ti_category``, ``ti_price``,
  ``ti_quantity``) stay as events (``product_id`` = ``ti_sku``, ``transaction_id`` = ``ti_orderid``) and
  become ``order_lines`` (one per ``event_id``; Snowplow can deliver an event twice).
* ``add_to_cart`` / ``remove_from_cart`` self-describing events: ``product_id`` is the ``sku`` of their
  ``unstruct_event_com_snowplowanalytics_snowplow_add_to_cart_1`` (or ``..._remove_from_cart_1``) column
  when the export has it (Snowflake / Databricks loader names; the BigQuery ``_1_0_0`` suffix too).

``domain_sessionid`` is not carried over: the raw-data contract has no session column, and the warehouse
sessionises every visitor's events itself, starting a new session after 30 minutes without an event
(``int_web__sessions``); Snowplow's own client sessions use the same 30-minute default, so the two mostly
agree. The load report gives the number of Snowplow sessions for comparison. ``page_urlpath`` is not in the
contract either and is dropped. Every other event (``page_view``, ``page_ping``, structured events, ...) is
kept with its name; names that the seed does not map take the role ``other``.
"""

from __future__ import annotations

from pathlib import Path

from retail_lift.adapters._customers import customers_sql, products_sql
from retail_lift.adapters.exports import (
    LoadReport,
    export_load,
    write_parquet,
)

_CART = "STRUCT(sku VARCHAR, name VARCHAR, category VARCHAR, unit_price VARCHAR, quantity VARCHAR)"
CART_COLUMNS = [f"unstruct_event_com_snowplowanalytics_snowplow_{kind}_1{suffix}"
                for kind in ("add_to_cart", "remove_from_cart") for suffix in ("", "_0_0")]
SNOWPLOW_JSON_COLUMNS = {
    **{c: "VARCHAR" for c in (
        "event_id", "derived_tstamp", "collector_tstamp", "event_name", "domain_userid", "user_id",
        "domain_sessionid", "page_urlpath", "tr_orderid", "tr_total", "ti_orderid", "ti_sku", "ti_name",
        "ti_category", "ti_price", "ti_quantity", "dvce_ismobile")},
    **{c: _CART for c in CART_COLUMNS},
}


def load_snowplow(inputs, out_dir: str | Path, log=print) -> LoadReport:
    """Convert Snowplow atomic events (file, folder or glob; Parquet or NDJSON) into a contract folder."""
    with export_load(inputs, out_dir, "Snowplow", SNOWPLOW_JSON_COLUMNS, log) as (r, out, report):
        con = r.con
        cart_skus = [r.text(f"{c}.sku") for c in CART_COLUMNS]
        cart_skus = [s for s in cart_skus if s != "cast(null as varchar)"]
        mobile = r.text("dvce_ismobile")
        r.execute(f"""
            create temp table sp as
            select row_number() over () as rn, filename,
                   {r.text('event_id')} as event_id,
                   coalesce({r.text('derived_tstamp')}, {r.text('collector_tstamp')}) as tstamp,
                   {r.text('event_name')} as event_name,
                   {r.text('domain_userid')} as domain_userid,
                   {r.text('user_id')} as user_id,
                   {r.text('domain_sessionid')} as domain_sessionid,
                   {r.text('tr_orderid')} as tr_orderid,
                   {r.text('tr_total')} as tr_total,
                   {r.text('ti_orderid')} as ti_orderid,
                   coalesce({', '.join([r.text('ti_sku')] + cart_skus)}) as sku,
                   {r.text('ti_name')} as ti_name,
                   {r.text('ti_category')} as ti_category,
                   {r.text('ti_price')} as ti_price,
                   {r.text('ti_quantity')} as ti_quantity,
                   case when lower({mobile}) in ('true', '1', 't', 'yes') then 'mobile'
                        when lower({mobile}) in ('false', '0', 'f', 'no') then 'desktop' end as device
            from {r.relation}""")
        r.check_required("sp", {"derived_tstamp or collector_tstamp": "tstamp", "event_name": "event_name",
                                "domain_userid": "domain_userid"}, "Snowplow")
        con.execute("""
            create temp table sp_events as
            select *, rl_iso_utc(tstamp) as event_at,
                   epoch_us(cast(try_cast(tstamp as timestamptz) as timestamp)) as ts_us
            from sp""")
        report.tables["events"] = write_parquet(con, """
            select event_at, domain_userid as visitor_id, event_name as event_type, sku as product_id,
                   ti_orderid as transaction_id, device
            from sp_events where event_name is distinct from 'transaction'
            order by rn""", out / "events.parquet")
        n_tr = con.execute("select count(*) from sp_events where event_name = 'transaction'").fetchall()[0][0]
        if n_tr:
            report.notes.append(f"{n_tr:,} transaction event(s) became orders and are not kept as events (their "
                                f"transaction_item events are the purchase events)")
        con.execute("""
            create temp table sp_orders as
            select * from sp_events where event_name = 'transaction' and tr_orderid is not null
            qualify row_number() over (partition by tr_orderid order by ts_us, rn) = 1""")
        n_orders = con.execute("select count(*) from sp_orders").fetchall()[0][0]
        if n_tr - n_orders:
            report.notes.append(f"{n_tr - n_orders:,} transaction event(s) repeat an order id or have none: "
                                f"one order per tr_orderid")
        report.tables["orders"] = write_parquet(con, """
            select tr_orderid as order_id, coalesce(user_id, domain_userid) as customer_id, event_at as ordered_at,
                   tr_total as amount, cast(null as varchar) as discount_amount, 'online' as channel,
                   cast(null as varchar) as store_id, cast(null as varchar) as promotion_id
            from sp_orders order by ts_us, rn""", out / "orders.parquet")
        con.execute("""
            create temp table sp_items as
            select * from sp_events where event_name = 'transaction_item' and ti_orderid is not null
            qualify row_number() over (partition by coalesce(event_id, cast(rn as varchar)) order by rn) = 1""")
        report.tables["order_lines"] = write_parquet(con, """
            select ti_orderid as order_id,
                   cast(row_number() over (partition by ti_orderid order by ts_us, rn) as integer) as line_number,
                   sku as product_id, ti_quantity as quantity, ti_price as unit_price,
                   cast(null as varchar) as discount_amount
            from sp_items order by ti_orderid, line_number""", out / "order_lines.parquet")
        orphans = con.execute("select count(distinct ti_orderid) from sp_items "
                              "where ti_orderid not in (select tr_orderid from sp_orders)").fetchall()[0][0]
        if orphans:
            report.notes.append(f"{orphans:,} order id(s) of transaction_item events have no transaction event: "
                                f"their order lines have no order")
        report.tables["customers"] = write_parquet(con, customers_sql(
            "select user_id as customer_id, arg_min(domain_userid, coalesce(ts_us, -1)) as visitor_id "
            "from sp_events where user_id is not null group by user_id",
            "select domain_userid as customer_id, domain_userid as visitor_id from sp_orders where user_id is null"),
            out / "customers.parquet")
        report.tables["products"] = write_parquet(con, products_sql(
            "select sku as product_id, ti_category as category_id, ti_name as product_name, ti_price as price, "
            "coalesce(ts_us, -1) as seen_at from sp_events where sku is not null"), out / "products.parquet")
        sessions = con.execute("select count(distinct domain_sessionid) from sp").fetchall()[0][0]
        report.notes.append(f"domain_sessionid not carried ({sessions:,} Snowplow sessions): the warehouse "
                            f"sessionises by 30-minute gaps itself")
    return report
