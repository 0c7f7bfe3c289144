"""Adapter for the RetailRocket e-commerce dataset layout.

RetailRocket's ``events.csv`` has the columns ``timestamp`` (milliseconds since the Unix epoch, UTC),
``visitorid``, ``event`` (view, addtocart, transaction), ``itemid`` and ``transactionid``. Optional
companions: ``category_tree.csv`` (``categoryid``, ``parentid``) and ``item_properties*.csv``
(``timestamp``, ``itemid``, ``property``, ``value``; the latest ``categoryid`` of each item is used).

``convert_retailrocket(events_csv, out_dir)`` writes the contract's ``events`` table (and
``products`` / ``categories`` when the companions are found next to the events file) into
``out_dir``, which can then be built like any other raw folder. Values are kept as text where they
do not parse (a timestamp that is not a number, say), so that staging quarantines those rows with
the original value instead of losing them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from retail_lift.adapters.prepare import RawDataError, _sql_str

RR_COLUMNS = ["timestamp", "visitorid", "event", "itemid", "transactionid"]


def convert_retailrocket(events_csv: str | Path, out_dir: str | Path, log=print) -> dict[str, int]:
    events_csv, out = Path(events_csv), Path(out_dir)
    if not events_csv.exists():
        raise RawDataError(f"{events_csv}: no such file (expected RetailRocket events.csv)")
    if events_csv.stat().st_size == 0:
        raise RawDataError(f"{events_csv}: the file is empty; expected columns {', '.join(RR_COLUMNS)}")
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    counts = {}
    try:
        rel = (f"read_csv({_sql_str(events_csv)}, header=true, all_varchar=true, ignore_errors=false, "
               f"null_padding=true)")
        try:
            found = [r[0] for r in con.execute(f"describe select * from {rel}").fetchall()]
        except duckdb.Error as e:
            raise RawDataError(f"{events_csv}: cannot be read as CSV ({str(e).splitlines()[0]})") from None
        norm = {c.strip().lower(): c for c in found}
        missing = [c for c in RR_COLUMNS if c not in norm and not (c == "transactionid")]
        if missing:
            raise RawDataError(f"{events_csv}: missing RetailRocket column(s) {', '.join(missing)}; found: "
                               f"{', '.join(found)}; expected: {', '.join(RR_COLUMNS)}")
        extra = [c for c in found if c.strip().lower() not in RR_COLUMNS]

        def q(c):
            return '"' + norm[c].replace('"', '""') + '"'

        tx = f"nullif(trim({q('transactionid')}), '')" if "transactionid" in norm else "cast(null as varchar)"
        # milliseconds -> ISO text; a value that is not a number is kept as it was (staging quarantines it)
        ts = (f"coalesce(strftime(make_timestamp(try_cast({q('timestamp')} as bigint) * 1000), "
              f"'%Y-%m-%d %H:%M:%S.%f'), {q('timestamp')})")
        sql = f"""
            select {ts} as event_at, trim({q('visitorid')}) as visitor_id, trim({q('event')}) as event_type,
                   trim({q('itemid')}) as product_id, {tx} as transaction_id, cast(null as varchar) as device
            from {rel}"""
        try:
            con.execute(f"copy ({sql}) to {_sql_str(out / 'events.parquet')} (format parquet, compression zstd)")
        except duckdb.Error as e:
            raise RawDataError(f"{events_csv}: could not be converted ({str(e).splitlines()[0]})") from None
        counts["events"] = con.execute(
            f"select count(*) from read_parquet({_sql_str(out / 'events.parquet')})").fetchall()[0][0]
        log(f"  events: {counts['events']:,} rows from {events_csv}"
            + (f" (ignored extra column(s): {', '.join(extra)})" if extra else ""))
        tree = events_csv.parent / "category_tree.csv"
        if tree.exists():
            con.execute(f"""copy (select cast(categoryid as varchar) as category_id,
                                         cast(parentid as varchar) as parent_category_id,
                                         cast(categoryid as varchar) as category_name
                                  from read_csv({_sql_str(tree)}, header=true, all_varchar=true))
                            to {_sql_str(out / 'categories.parquet')} (format parquet)""")
            counts["categories"] = con.execute(
                f"select count(*) from read_parquet({_sql_str(out / 'categories.parquet')})").fetchall()[0][0]
            log(f"  categories: {counts['categories']:,} rows from {tree}")
        props = sorted(events_csv.parent.glob("item_properties*.csv"))
        if props:
            files = "[" + ", ".join(_sql_str(p) for p in props) + "]"
            con.execute(f"""copy (
                    select cast(itemid as varchar) as product_id,
                           arg_max(value, try_cast(timestamp as bigint)) as category_id,
                           cast(null as varchar) as product_name, cast(null as double) as price,
                           cast(null as double) as unit_cost, cast(null as timestamp) as launched_at
                    from read_csv({files}, header=true, all_varchar=true)
                    where property = 'categoryid'
                    group by 1) to {_sql_str(out / 'products.parquet')} (format parquet)""")
            counts["products"] = con.execute(
                f"select count(*) from read_parquet({_sql_str(out / 'products.parquet')})").fetchall()[0][0]
            log(f"  products: {counts['products']:,} rows from {len(props)} item_properties file(s)")
    finally:
        con.close()
    return counts
