"""A real-shaped clickstream (19 event names, no product ids) builds: one session per 30-minute gap, every event
kept, the funnel's steps equal an independent pandas computation; a full build and the quality step pass.

The data is the Retentioneering e-commerce demo clickstream (tests/python/data/README.md): 31,106 events of 600
users. Its own `session_id` splits sessions at 30-minute gaps too, so the warehouse's sessions must equal the data's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import run_dbt

from retail_lift.adapters import prepare_raw
from retail_lift.contract import event_roles

pytestmark = pytest.mark.dbt

DATA = Path(__file__).resolve().parents[1] / "data" / "retentioneering_ecom.csv.gz"
STEPS = ["page_view", "product_view", "add_to_cart", "view_cart", "begin_checkout", "add_payment_info", "purchase"]
RANK = {"page_view": 1, "search": 2, "product_view": 3, "add_to_cart": 4, "other": 5, "view_cart": 6,
        "begin_checkout": 7, "add_payment_info": 8, "purchase": 9, "refund": 10}


@pytest.fixture(scope="module")
def ecom():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def ecom_build(ecom, tmp_path_factory):
    work = tmp_path_factory.mktemp("ecom")
    folder = work / "in"
    folder.mkdir()
    # the user's export, renamed to the contract's columns (no product ids: page-level tracking)
    pd.DataFrame({"event_at": ecom.timestamp, "visitor_id": ecom.user_id, "event_type": ecom.event,
                  "device": ecom.platform}).to_csv(folder / "events.csv", index=False)
    # its users as registered customers, with the shop's own acquisition channels (organic, paid_search, ...)
    users = ecom.groupby("user_id", as_index=False).acquisition_channel.first()
    pd.DataFrame({"customer_id": users.user_id, "visitor_id": users.user_id,
                  "acquisition_channel": users.acquisition_channel}).to_csv(folder / "customers.csv", index=False)
    prepare_raw(folder, work / "raw", truth_out=work / "truth", log=lambda *_: None)
    steps = "[" + ", ".join(STEPS) + "]"
    # a full build, then the quality step as `make build` runs it: events only, none with a product id
    run_dbt(["build", "--vars", f"{{funnel_steps: {steps}}}"], work / "raw", work / "truth", work)
    proc = subprocess.run([str(Path(sys.executable).with_name("retail-lift")), "check", "--raw-as-warnings",
                           "--warehouse", str(work / "warehouse.duckdb"), "--raw", str(work / "raw"),
                           "--out", str(work / "quality")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "data quality: passed" in proc.stdout
    return work / "warehouse.duckdb"


def _reference_sessions(ecom: pd.DataFrame) -> pd.DataFrame:
    """Exact duplicate rows dropped; a new session after more than 30 minutes without an event."""
    roles = event_roles()
    d = ecom.drop_duplicates().assign(ts=pd.to_datetime(ecom.timestamp))
    d["role"] = d.event.str.lower().map(roles).fillna("other")
    d = d.assign(rank=d.role.map(RANK)).sort_values(["user_id", "ts", "rank"], kind="stable")
    gap = d.groupby("user_id").ts.diff()
    d["session"] = ((gap.isna()) | (gap > pd.Timedelta(minutes=30))).cumsum()
    return d


def test_every_event_named_in_the_seed(ecom):
    roles = event_roles()
    assert sorted(set(ecom.event.str.lower()) - set(roles)) == []
    assert ecom.event.nunique() == 19


def test_one_session_per_30_minute_gap_every_event_kept(ecom, ecom_build):
    ref = _reference_sessions(ecom)
    with duckdb.connect(str(ecom_build), read_only=True) as con:
        kept = con.sql("select count(*) from staging.stg_shop__events").fetchall()[0][0]
        quarantined = con.sql("select dq_reason, count(*) from staging.stg_shop__quarantined_rows "
                              "where source_table = 'events' group by 1").fetchall()
        n_sessions, n_events, n_visitors = con.sql(
            "select count(*), sum(events), count(distinct visitor_id) from marts.fct_sessions").fetchall()[0]
        per_session = con.sql("select visitor_id, session_started_at, events from marts.fct_sessions").df()
        channels = dict(con.sql("select acquisition_channel, count(*) from marts.dim_customers group by 1").fetchall())
    # the only rows set aside are the data's 30 exact duplicate rows, kept in quarantine
    assert dict(quarantined) == {"duplicate_event": int(ecom.duplicated().sum())} == {"duplicate_event": 30}
    assert kept + 30 == len(ecom) == 31_106
    assert n_sessions == ref.session.nunique() == ecom.session_id.nunique() == 3_605
    assert n_events == kept
    assert n_visitors == ecom.user_id.nunique()
    # the shop's own channel names are kept (outside the simulated world's domain: a warning, not a failure)
    assert channels == ecom.groupby("user_id").acquisition_channel.first().value_counts().to_dict()
    # session by session: the same start and the same number of events
    exp = ref.groupby("session").agg(visitor_id=("user_id", "first"), session_started_at=("ts", "min"),
                                      events=("ts", "size")).reset_index(drop=True)
    got = per_session.assign(session_started_at=pd.to_datetime(per_session.session_started_at))
    merged = exp.merge(got, on=["visitor_id", "session_started_at"], how="outer", suffixes=("", "_wh"),
                       indicator=True)
    assert (merged._merge == "both").all()
    assert (merged.events == merged.events_wh).all()


def test_funnel_steps_equal_pandas(ecom, ecom_build):
    ref = _reference_sessions(ecom)
    reached = dict.fromkeys(STEPS, 0)
    for _, s in ref.groupby("session", sort=False):
        k = 0
        for role in s.role:
            if k < len(STEPS) and role == STEPS[k]:
                k += 1
        for step in STEPS[:k]:
            reached[step] += 1
    with duckdb.connect(str(ecom_build), read_only=True) as con:
        got = con.sql("select step_number, step, sessions_reached from marts.fct_funnel "
                      "where breakdown = 'overall' and funnel_date is null order by step_number").fetchall()
    assert [g[1] for g in got] == STEPS
    assert [g[0] for g in got] == list(range(1, len(STEPS) + 1))
    assert {g[1]: g[2] for g in got} == reached
    assert reached["purchase"] > 0
