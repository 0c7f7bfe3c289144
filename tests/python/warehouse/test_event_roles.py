"""Any shop's clickstream (issue 19): 19 event names, page events without product_id, a custom funnel.

A small GA4/Snowplow-like clickstream is built in Python, prepared and built with a selected dbt build
(`+fct_funnel +fct_sessions`) and a custom var funnel_steps; sessions and funnel counts are checked against
counts computed here: one session per 30-minute gap with every event kept (0 quarantined), and exact
session counts per funnel step.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest
from helpers import run_dbt

from retail_lift.adapters import prepare_raw
from retail_lift.contract import TABLES, event_roles

pytestmark = pytest.mark.dbt

# 19 names as a real shop logs them (some in another case or with spaces; staging lower-cases and trims)
PAGE_NAMES = ["home", "catalog", "search", "filter_results", "login", "account", "wishlist", "contact", "about",
              "newsletter_signup", "logout"]
NAMES = PAGE_NAMES + ["product_view", "add_to_cart", "remove_from_cart", "cart", "shipping_details",
                      "payment_details", "purchase", "refund"]
PRODUCT_NAMES = {"product_view", "add_to_cart", "remove_from_cart"}
# page_view → product_view → add_to_cart → begin_checkout (role) → payment_details (a name) → purchase →
# gift_wrap (a name no event has: 0 sessions)
STEPS = ["page_view", "product_view", "add_to_cart", "begin_checkout", "payment_details", "purchase", "gift_wrap"]
TIMEOUT = timedelta(minutes=30)
FUNNEL_WALK = ["home", "catalog", "product_view", "add_to_cart", "cart", "shipping_details", "payment_details",
               "purchase"]
START = datetime(2026, 3, 2, 8, 0, 0)


def _clickstream(seed: int = 19) -> pd.DataFrame:
    """Visitors with a few sessions each: gaps inside a session of up to exactly 30 minutes, between sessions
    of 30 minutes and 1 second or more; names drawn so that every step order occurs (carts before views,
    checkouts without carts, ...); page events, checkout steps and purchases carry no product_id."""
    rng = random.Random(seed)
    rows = []
    for v in range(60):
        visitor, device = f"visitor_{v:03d}", rng.choice(["desktop", "mobile", "tablet", None])
        at = START + timedelta(hours=rng.randrange(0, 96), seconds=rng.randrange(0, 3600))
        for s in range(rng.randint(1, 4)):
            if s:
                at += rng.choice([TIMEOUT + timedelta(seconds=1), timedelta(hours=rng.randint(1, 40))])
            if rng.random() < 0.6:  # a walk down the shop's funnel, stopping anywhere, with other events between
                walk = FUNNEL_WALK[:rng.randint(1, len(FUNNEL_WALK))]
                names = [n for step in walk for n in [step] + rng.sample(NAMES, rng.choice([0, 0, 1, 2]))]
            else:  # events in any order
                names = [rng.choice(NAMES) for _ in range(rng.randint(1, 14))]
            for e, name in enumerate(names):
                if e:
                    at += rng.choice([TIMEOUT, timedelta(seconds=rng.randint(1, 1799))])
                if name in ("home", "catalog") and rng.random() < 0.3:
                    name = f"  {name.upper()} "  # staging trims and lower-cases
                product = f"P{rng.randint(1, 9)}" if name in PRODUCT_NAMES else None
                transaction = f"T{v}_{s}_{e}" if name == "purchase" and rng.random() < 0.7 else None
                rows.append((at, visitor, name, product, transaction, device))
    frame = pd.DataFrame(rows, columns=TABLES["events"].column_names)
    assert frame["event_type"].str.strip().str.lower().nunique() == 19
    return frame


def _expected(events: pd.DataFrame) -> tuple[list[list[tuple[str, str]]], list[int]]:
    """The sessions (each a list of (name, role) in time order) and the sessions reaching each step."""
    roles = event_roles()
    sessions: list[list[tuple[str, str]]] = []
    for _, visitor_events in events.sort_values(["visitor_id", "event_at"]).groupby("visitor_id"):
        previous = None
        for at, raw_name in zip(visitor_events["event_at"], visitor_events["event_type"], strict=True):
            if previous is None or at - previous > TIMEOUT:
                sessions.append([])
            name = raw_name.strip().lower()
            sessions[-1].append((name, roles.get(name, "other")))
            previous = at
    reached = [0] * len(STEPS)
    for session in sessions:
        step = 0
        for name, role in session:  # greedy: the earliest match of each step after the previous one
            if step < len(STEPS) and STEPS[step] in (name, role):
                step += 1
        for k in range(step):
            reached[k] += 1
    return sessions, reached


@pytest.fixture(scope="module")
def clickstream_build(tmp_path_factory):
    work = tmp_path_factory.mktemp("event_roles")
    data, raw, truth = work / "in", work / "raw", work / "truth"
    data.mkdir()
    events = _clickstream()
    assert not events.duplicated(["visitor_id", "event_at"]).any()  # no ties: the order is the time order
    events.to_parquet(data / "events.parquet", index=False)
    prepare_raw(data, raw, truth_out=truth, log=lambda *_: None)
    run_dbt(["build", "-s", "+fct_funnel +fct_sessions +stg_shop__quarantined_rows",
             "--indirect-selection", "cautious", "--vars", json.dumps({"funnel_steps": STEPS})], raw, truth, work)
    return work / "warehouse.duckdb", events


def _q(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_event_is_kept_and_mapped_to_its_role(clickstream_build):
    db, events = clickstream_build
    assert _q(db, "select count(*) from staging.stg_shop__quarantined_rows where source_table = 'events'") == [(0,)]
    assert _q(db, "select count(*) from staging.stg_shop__events") == [(len(events),)]
    roles = event_roles()
    names = events["event_type"].str.strip().str.lower()
    expected = Counter(roles.get(n, "other") for n in names)
    got = dict(_q(db, "select event_role, count(*) from staging.stg_shop__events group by 1"))
    assert got == dict(expected)
    # names the seed does not know take the role other (remove_from_cart is mapped to other by the seed)
    assert got["other"] == sum(n in ("login", "account", "wishlist", "contact", "about", "newsletter_signup",
                                     "logout", "remove_from_cart") for n in names)
    # the names are kept, lower-cased
    assert {n for (n,) in _q(db, "select distinct event_type from staging.stg_shop__events")} == set(names)
    # purchases without transaction_id are kept
    assert _q(db, "select count(*) from staging.stg_shop__events "
                  "where event_role = 'purchase' and transaction_id is null") == \
        [(int(((names == "purchase") & events["transaction_id"].isna()).sum()),)]


def test_one_session_per_30_minute_gap_with_every_event(clickstream_build):
    db, events = clickstream_build
    sessions, _ = _expected(events)
    got = _q(db, "select count(*), sum(events), sum(page_views), sum(views), sum(carts), sum(purchases), "
                 "count_if(views = 0) from marts.fct_sessions")[0]
    roles = Counter(role for session in sessions for _, role in session)
    assert got == (len(sessions), len(events), roles["page_view"], roles["product_view"], roles["add_to_cart"],
                   roles["purchase"], sum(all(r != "product_view" for _, r in s) for s in sessions))
    assert got[6] > 0  # sessions without a product view exist
    sizes = sorted(n for (n,) in _q(db, "select events from marts.fct_sessions"))
    assert sizes == sorted(len(s) for s in sessions)


def test_custom_funnel_counts_every_step_exactly(clickstream_build):
    db, events = clickstream_build
    sessions, reached = _expected(events)
    rows = _q(db, "select step_number, step, sessions, sessions_reached, conversion_from_previous, "
                  "conversion_from_first from marts.fct_funnel "
                  "where breakdown = 'overall' and funnel_date is null order by step_number")
    assert [r[:4] for r in rows] == [(k + 1, step, len(sessions), reached[k]) for k, step in enumerate(STEPS)]
    assert reached[-1] == 0 and reached[-2] > 0  # the unknown step has 0 sessions; the others are reached
    assert all(a >= b for a, b in zip(reached, reached[1:], strict=False))
    previous = [len(sessions)] + reached[:-1]
    for (_, _, _, n, from_previous, from_first), before in zip(rows, previous, strict=True):
        assert from_previous == pytest.approx(n / before)
        assert from_first == pytest.approx(n / reached[0])
    # every breakdown adds up to the overall funnel, step by step
    sums = _q(db, "select breakdown, step_number, sum(sessions_reached) from marts.fct_funnel "
                  "where funnel_date is null and breakdown <> 'overall' group by 1, 2 order by 1, 2")
    assert {b for b, _, _ in sums} == {"device", "acquisition_channel", "visitor_type"}
    assert all(n == reached[k - 1] for _, k, n in sums)
    # the daily rows add up to the all-time rows
    daily = _q(db, "select step_number, sum(sessions_reached) from marts.fct_funnel "
                   "where funnel_date is not null and breakdown = 'overall' group by 1 order by 1")
    assert [n for _, n in daily] == reached
