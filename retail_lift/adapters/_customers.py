"""SQL shared by the export loaders: the customers and products tables built from staged events."""

from __future__ import annotations

from retail_lift.contract import TABLES


def customers_sql(registered: str, anonymous_buyers: str) -> str:
    """customers from ``registered`` (customer_id, visitor_id) and ``anonymous_buyers`` (same columns).

    An anonymous buyer (an order without a user id) is a customer whose id is the visitor id, as ``prepare``
    derives it; a visitor id that is also a registered customer id is not repeated.
    """
    cols = ", ".join(c.name if c.name in ("customer_id", "visitor_id") else f"cast(null as varchar) as {c.name}"
                     if c.type != "BOOLEAN" else f"cast(null as boolean) as {c.name}"
                     for c in TABLES["customers"].columns)
    return f"""
        with registered as ({registered}),
        anonymous_buyers as (
            select distinct customer_id, visitor_id from ({anonymous_buyers})
            where customer_id not in (select customer_id from registered)
        )
        select {cols}
        from (select * from registered union all select * from anonymous_buyers)
        where customer_id is not null
        order by customer_id"""


def products_sql(items: str) -> str:
    """products from ``items`` (product_id, category_id, product_name, price, seen_at): the latest known values."""
    return f"""
        select product_id,
               arg_max(category_id, seen_at) filter (where category_id is not null) as category_id,
               arg_max(product_name, seen_at) filter (where product_name is not null) as product_name,
               arg_max(price, seen_at) filter (where price is not null) as price,
               cast(null as double) as unit_cost, cast(null as timestamp) as launched_at
        from ({items}) where product_id is not null group by product_id order by product_id"""
