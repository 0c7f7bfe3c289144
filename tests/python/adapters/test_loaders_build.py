"""Each loader's output builds: export fixture -> load-* -> prepare -> dbt build of the staging, sessions, funnel
and orders, with every event kept, one session per 30-minute gap and the orders staged (the fixtures are those of
test_loaders.py)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from helpers import run_dbt
from test_loaders import _write_ndjson, ga4_rows, segment_rows, snowplow_rows

from retail_lift.adapters import load_ga4, load_segment, load_snowplow, prepare_raw

pytestmark = pytest.mark.dbt

SELECT = "+fct_sessions +fct_funnel +stg_shop__orders +stg_shop__order_lines +stg_shop__quarantined_rows"


@pytest.mark.parametrize("loader,rows", [(load_ga4, ga4_rows), (load_snowplow, snowplow_rows),
                                         (load_segment, segment_rows)], ids=["ga4", "snowplow", "segment"])
def test_loader_output_builds_with_every_event_kept(tmp_path, loader, rows):
    src = _write_ndjson(tmp_path / "export" / "part-0001.json", rows())
    report = loader(src, tmp_path / "folder", log=lambda *_: None)
    raw, truth = tmp_path / "raw", tmp_path / "truth"
    prepare_raw(tmp_path / "folder", raw, truth_out=truth, log=lambda *_: None)
    run_dbt(["build", "--indirect-selection", "cautious", "-s", SELECT], raw, truth, tmp_path)
    events = duckdb.sql(f"select * from read_parquet('{raw}/events.parquet')").df()
    duplicates = int(events.duplicated().sum())  # an event sent twice (Snowplow's fixture) is quarantined once
    landed = events.drop_duplicates().assign(t=lambda d: pd.to_datetime(d.event_at)).sort_values(["visitor_id", "t"])
    gap = landed.groupby("visitor_id").t.diff()
    expected_sessions = int(((gap.isna()) | (gap > pd.Timedelta(minutes=30))).sum())
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        def one(sql):
            return con.execute(sql).fetchall()[0][0]
        assert con.execute("select dq_reason, count(*) from staging.stg_shop__quarantined_rows "
                           "where source_table = 'events' group by 1"
                           ).fetchall() == ([("duplicate_event", duplicates)] if duplicates else [])
        assert one("select count(*) from staging.stg_shop__quarantined_rows where source_table = 'orders'") == 0
        assert one("select count(*) from staging.stg_shop__quarantined_rows where source_table = 'order_lines'") == 0
        assert one("select count(*) from staging.stg_shop__events") == report.tables["events"] - duplicates
        assert len(landed) == len(events) - duplicates
        assert one("select count(*) from staging.stg_shop__orders") == report.tables["orders"] > 0
        assert one("select count(*) from staging.stg_shop__order_lines") == report.tables["order_lines"]
        assert one("select count(*) from marts.fct_sessions") == expected_sessions
        assert one("select sum(events) from marts.fct_sessions") == len(landed)
        # every name the loader wrote is in the seed event_roles (none falls to 'other' unmapped); purchases
        # are counted; the default funnel has its 3 steps
        assert one("select count(*) from staging.stg_shop__events where event_type not in "
                   "(select event_name from reference.event_roles)") == 0
        assert one("select sum(purchases) from marts.fct_sessions") > 0
        assert one("select count(*) from marts.fct_funnel where breakdown = 'overall' and funnel_date is null") == 3
