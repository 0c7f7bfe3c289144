"""The simulated world: deterministic, realistic in its rates, and with a consistent ground truth."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import duckdb
import numpy as np
import pytest

from retail_lift.contract import TABLES, TRUTH_TABLES
from retail_lift.world import generate_world
from retail_lift.world.generate import ATTRIBUTION_DAYS, DECISION_END_DAYS, PERIOD_START
from retail_lift.world.presets import get_preset


def _hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def _q(con, sql):
    return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def con(tiny_world):
    c = duckdb.connect()
    for name in TABLES:
        c.execute(f"create view {name} as select * from read_parquet('{tiny_world / 'raw' / (name + '.parquet')}')")
    for name in TRUTH_TABLES:
        c.execute(f"create view {name} as select * from read_parquet('{tiny_world / 'truth' / (name + '.parquet')}')")
    yield c
    c.close()


def test_same_seed_gives_identical_files(tmp_path):
    a = generate_world("tiny", seed=3, out=tmp_path / "a", progress=False)
    b = generate_world("tiny", seed=3, out=tmp_path / "b", progress=False)
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(ha) == len(TABLES) + len(TRUTH_TABLES)
    assert ha == hb
    assert a == b
    c = generate_world("tiny", seed=4, out=tmp_path / "c", progress=False)
    assert _hashes(tmp_path / "c")["raw/events.parquet"] != ha["raw/events.parquet"]
    assert c["row_counts"] != a["row_counts"]


def test_every_contract_table_is_written_with_contract_columns(tiny_world, con):
    for name, table in {**TABLES, **TRUTH_TABLES}.items():
        cols = [r[0] for r in _q(con, f"describe select * from {name}")]
        assert cols == table.column_names, name
    summary = json.loads((tiny_world / "world.json").read_text())
    assert summary["row_counts"]["customers"] == 1000


def test_funnel_rates_resemble_retailrocket(con):
    views, carts, tx = _q(con, "select count_if(event_type='view'), count_if(event_type='addtocart'), "
                               "count_if(event_type='transaction') from events")[0]
    assert 0.015 <= carts / views <= 0.045, carts / views
    assert 0.2 <= tx / carts <= 0.6, tx / carts


def test_seasonality_evening_peak_and_saturday_dip(con):
    by_hour = dict(_q(con, "select hour(event_at), count(*) from events group by 1"))
    evening = np.mean([by_hour.get(h, 0) for h in range(18, 23)])
    morning = np.mean([by_hour.get(h, 0) for h in range(7, 11)])
    assert evening > 2.5 * morning
    by_dow = dict(_q(con, "select isodow(event_at), count(*) from events group by 1"))
    weekdays = np.mean([by_dow[d] for d in range(1, 6)])
    assert by_dow[6] < 0.85 * weekdays  # Saturday


def test_visitors_customers_and_cold_start(con):
    n_vis, n_cust_vis = _q(con, "select count(distinct visitor_id), count(distinct visitor_id) filter "
                                "(where visitor_id in (select visitor_id from customers)) from events")[0]
    assert n_cust_vis < n_vis  # some visitors never become customers
    one_time = _q(con, "select avg((n = 1)::int) from (select visitor_id, count(distinct event_at::date) n "
                       "from events group by 1)")[0][0]
    assert 0.1 < one_time < 0.9  # one-time and returning visitors
    start, end = _q(con, "select min(event_at), max(event_at) from events")[0]
    mid_launch = _q(con, f"select count(*) from products where launched_at > '{start}'")[0][0]
    assert mid_launch > 0


def test_orders_reconcile_with_lines_and_transactions(con):
    bad = _q(con, """select count(*) from orders o join (
                       select order_id, sum(quantity * unit_price - discount_amount) as s from order_lines group by 1
                     ) l using (order_id) where abs(o.amount - l.s) > 0.02""")[0][0]
    assert bad == 0
    online = _q(con, "select count(*) from orders where channel = 'online'")[0][0]
    tx_orders = _q(con, "select count(distinct transaction_id) from events where event_type = 'transaction'")[0][0]
    # online orders near the end of the period may have their events cut at the period end; never more
    assert tx_orders <= online and tx_orders >= 0.95 * online
    assert _q(con, "select count(*) from orders where channel = 'store'")[0][0] > 0


def test_delayed_purchases_exist(con):
    share = _q(con, """
        with tx as (select visitor_id, product_id, min(event_at) t from events
                    where event_type='transaction' group by 1,2),
             cart as (select visitor_id, product_id, max(event_at) t from events
                      where event_type='addtocart' group by 1,2)
        select avg((tx.t - cart.t > interval 24 hour)::int) from tx join cart using (visitor_id, product_id)
        where cart.t <= tx.t""")[0][0]
    assert 0.05 < share < 0.6


def test_decision_log_propensities_are_consistent(con):
    rows = _q(con, "select promotion_id, propensity, action_probabilities from decisions")
    assert len(rows) > 100
    for arm, p, probs in rows:
        d = json.loads(probs)
        assert abs(sum(d.values()) - 1) < 1e-5
        assert 0 < p <= 1 and abs(d[arm] - p) < 1e-6
    # the new arm exists only after its launch
    first_new = _q(con, "select min(decided_at) from decisions where action_probabilities like '%free_shipping%'")[0][0]
    launch = _q(con, "select launched_at from promotions where promotion_id = 'free_shipping'")[0][0]
    assert first_new >= launch


def _decision_days(path):
    """Per decision: customer and days since the start of the world (exact to the second)."""
    c = duckdb.connect()
    rows = c.execute(f"select customer_id, epoch(decided_at) - epoch(timestamp '{PERIOD_START}') "
                     f"from read_parquet('{path}') order by customer_id, decided_at").fetchall()
    c.close()
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows]) / 86_400


def test_decision_log_one_decision_each_over_forty_days(tiny_world):
    """tiny (and large): one decision per member of the programme, during the 40 days before the last 2."""
    p = get_preset("tiny")
    assert (p.decision_days, p.decision_cadence_days) == (40, 40)
    assert not p.decisions_skip_experiment_windows
    cust, day = _decision_days(tiny_world / "raw" / "decisions.parquet")
    assert len(np.unique(cust)) == len(cust) <= 900
    assert day.min() >= p.days - DECISION_END_DAYS - 40 and day.max() < p.days - DECISION_END_DAYS


def test_decision_log_with_a_cadence_repeats_decisions_without_overlapping_windows(tmp_path):
    """The default preset's design (a decision every 15 days over a longer period) on the tiny world:
    each member is decided again every cadence, and one customer's attribution windows never overlap."""
    d = get_preset("default")
    assert (d.decision_days, d.decision_cadence_days, d.decisions_skip_experiment_windows) == (90, 15, True)
    p = dataclasses.replace(get_preset("tiny"), decision_days=75, decision_cadence_days=15,
                            decisions_skip_experiment_windows=True)
    s = generate_world(p, seed=5, out=tmp_path / "w", progress=False)
    cust, day = _decision_days(tmp_path / "w" / "raw" / "decisions.parquet")
    lo, hi = p.days - DECISION_END_DAYS - 75, p.days - DECISION_END_DAYS
    assert day.min() >= lo and day.max() < hi
    assert s["stats"]["decisions"] == len(cust)
    same = cust[1:] == cust[:-1]
    gaps = np.diff(day)[same]
    assert gaps.min() > ATTRIBUTION_DAYS  # 15 days apart up to the hour of day: windows never overlap
    assert np.all(np.abs(gaps - 15 * np.round(gaps / 15)) < 14 / 24)  # a whole number of cadences apart
    per_customer = np.unique(cust, return_counts=True)[1]
    assert per_customer.max() == 5  # 75 days / 15 days
    # no decision's window overlaps the customer's experiment window
    c = duckdb.connect()
    overlapping = c.execute(f"""
        select count(*) from read_parquet('{tmp_path / "w" / "raw" / "decisions.parquet"}') d
        join read_parquet('{tmp_path / "w" / "raw" / "experiment_assignments.parquet"}') e using (customer_id)
        where abs(epoch(d.decided_at) - epoch(e.assigned_at)) < {ATTRIBUTION_DAYS} * 86400""").fetchone()[0]
    assert overlapping == 0
    # every decision has its truth
    exposures = tmp_path / "w" / "truth" / "truth_exposures.parquet"
    truth = duckdb.connect().execute(f"select count(distinct exposure_id) from read_parquet('{exposures}') "
                                     "where exposure_kind = 'decision'").fetchone()[0]
    assert truth == len(cust)
    # what is drawn before the decision log, and each customer's truth per arm, do not depend on its length
    generate_world("tiny", seed=5, out=tmp_path / "one", progress=False)
    h, h1 = _hashes(tmp_path / "w"), _hashes(tmp_path / "one")
    for f in ("raw/customers.parquet", "raw/experiment_assignments.parquet", "truth/truth_customer_arms.parquet",
              "truth/truth_customers.parquet"):
        assert h[f] == h1[f], f
    assert h["raw/decisions.parquet"] != h1["raw/decisions.parquet"]


def test_truth_is_consistent(con):
    n_arms = _q(con, "select count(*) from promotions")[0][0]
    assert _q(con, "select count(*) from truth_customer_arms")[0][0] == 1000 * n_arms
    assert _q(con, "select count(*) from (select customer_id from truth_customer_arms where is_oracle_arm "
                   "group by 1 having count(*) = 1)")[0][0] == 1000
    lo, hi = _q(con, "select min(p_convert), max(p_convert) from truth_exposures")[0]
    assert 0 <= lo and hi <= 1
    assert _q(con, "select count(*) from truth_customer_arms where promotion_id = 'control' "
                   "and true_uplift <> 0")[0][0] == 0
    types = dict(_q(con, "select uplift_type, count(*) from truth_customers group by 1"))
    assert set(types) == {"persuadable", "sure_thing", "lost_cause", "do_not_disturb"}
    # do-not-disturbs lose, persuadables gain from an e-mail
    by_type = dict(_q(con, """select t.uplift_type, avg(a.true_uplift) from truth_customer_arms a
                              join truth_customers t using (customer_id) where a.promotion_id = 'email_10pct'
                              group by 1"""))
    assert by_type["persuadable"] > 0.02 > by_type["sure_thing"] >= 0 > by_type["do_not_disturb"]
    # every logged exposure has its truth
    n_dec = _q(con, "select count(*) from decisions")[0][0]
    assert _q(con, "select count(distinct exposure_id) from truth_exposures where exposure_kind='decision'")[0][0] \
        == n_dec


def test_experiment_with_logging_bug_loses_treatment_logs(con):
    """exp_cart_popup loses part of its treatment group's logs (a sample-ratio mismatch by design)."""
    logged = dict(_q(con, "select variant, count(*) from experiment_assignments where experiment_id = "
                          "'exp_cart_popup' group by 1"))
    exposed = dict(_q(con, """select e.variant, count(*) from (
                                  select exposure_id, max(case when promotion_id = 'control' then 1 end) as c
                                  from truth_exposures where exposure_id like 'exp_cart_popup:%' group by 1) x
                              join (select 'exp_cart_popup:' || customer_id as exposure_id, variant
                                    from experiment_assignments where experiment_id = 'exp_cart_popup') e
                              using (exposure_id) group by 1"""))
    n_exposed = _q(con, "select count(distinct exposure_id) from truth_exposures "
                        "where exposure_id like 'exp_cart_popup:%'")[0][0]
    assert exposed == logged  # every logged assignment was a real exposure
    assert sum(logged.values()) < n_exposed  # and some exposures were not logged
    other = _q(con, "select count(distinct exposure_id) from truth_exposures "
                    "where exposure_id like 'exp_email_offer:%'")[0][0]
    assert other == _q(con, "select count(*) from experiment_assignments where experiment_id='exp_email_offer'")[0][0]


def _write_one_piece(table_def, columns, path, row_group_rows):
    """The generator's writer before chunking, verbatim: the whole table in memory, one ``pq.write_table``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    arrays = []
    for col in table_def.columns:
        data = columns[col.name]
        typ = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(),
               "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(), "BIGINT": pa.int64()}[col.type]
        if typ == pa.string():
            data = np.asarray(data, dtype=object)
            arrays.append(pa.array([None if x is None else str(x) for x in data], type=typ)
                          if data.dtype == object and any(x is None for x in data[:100_000])
                          else pa.array(data.astype(str), type=typ))
        else:
            arrays.append(pa.array(data, type=typ))
    table = pa.Table.from_arrays(arrays, names=table_def.column_names)
    pq.write_table(table, path, compression="zstd", row_group_size=row_group_rows)


@pytest.mark.parametrize("chunk_rows", [1, 333, 4096])
def test_generation_in_chunks_equals_generation_in_one_piece(tmp_path, monkeypatch, chunk_rows):
    """Chunked writing (tables written as their step ends, text made ``chunk_rows`` rows at a time) gives the
    bytes of the whole world generated in memory and written in one piece; row groups of 4,096 rows make the
    tiny tables span several row groups, with chunk boundaries inside and across them."""
    from retail_lift.world import generate as g
    monkeypatch.setattr(g, "ROW_GROUP_ROWS", 4096)
    preset = get_preset("tiny")
    whole = g._World(preset, 7)  # no sink: every table stays in memory
    for step in ("catalogue", "people", "sessions", "store_orders", "experiments", "decisions", "apply_exposures",
                 "orders_and_events"):
        getattr(whole, step)()
    (tmp_path / "one" / "raw").mkdir(parents=True)
    (tmp_path / "one" / "truth").mkdir()
    for group, tables, defs in (("raw", whole.tables, TABLES), ("truth", whole.truth, TRUTH_TABLES)):
        for name, cols in tables.items():
            _write_one_piece(defs[name], cols, tmp_path / "one" / group / f"{name}.parquet", 4096)
    summary = generate_world(preset, seed=7, out=tmp_path / "chunked", progress=False, chunk_rows=chunk_rows)
    one, chunked = _hashes(tmp_path / "one"), _hashes(tmp_path / "chunked")
    assert len(one) == len(TABLES) + len(TRUTH_TABLES)
    assert chunked == one
    events = summary["row_counts"]["events"]
    assert events > 2 * 4096 and events > 3 * chunk_rows  # several row groups and several chunks
    assert summary["row_counts"] == whole.row_counts
    assert summary["stats"] == whole.stats


def test_chunk_rows_does_not_change_the_files_and_must_be_positive(tmp_path):
    a = generate_world("tiny", seed=3, out=tmp_path / "a", progress=False, chunk_rows=10_000_000)
    b = generate_world("tiny", seed=3, out=tmp_path / "b", progress=False, chunk_rows=2_000)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    assert a == b
    assert (tmp_path / "a" / "world.json").read_bytes() == (tmp_path / "b" / "world.json").read_bytes()
    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        generate_world("tiny", seed=3, out=tmp_path / "c", progress=False, chunk_rows=0)
    from retail_lift.cli import generate
    from retail_lift.world.generate import DEFAULT_CHUNK_ROWS
    option = next(p for p in generate.params if p.name == "chunk_rows")
    assert option.default == DEFAULT_CHUNK_ROWS  # the command line's default is the generator's


def test_take_column_materialises_slices_with_nulls():
    from retail_lift.world.generate import _Take
    col = _Take(np.array(["a", "bb", "ccc"]), np.array([2, -1, 0, 1, -1]), nullable=True)
    assert len(col) == 5
    assert col[1:4].tolist() == [None, "a", "bb"]
    assert np.asarray(col).tolist() == ["ccc", None, "a", "bb", None]
    assert _Take(np.array([], dtype=str), np.array([-1, -1]), nullable=True)[:].tolist() == [None, None]
    assert _Take(np.array(["x", "y"]), np.array([1, 1, 0]))[:].tolist() == ["y", "y", "x"]


def test_chunked_writer_keeps_the_bytes_of_text_columns_over_16_mib(tmp_path, monkeypatch):
    """pyarrow cuts a NumPy text column of more than 16 MiB into chunks and a Parquet page may end where a
    chunk ends (the large world's decision contexts): the chunked writer reproduces those chunks."""
    from types import SimpleNamespace

    from retail_lift.world import generate as g
    monkeypatch.setattr(g, "ROW_GROUP_ROWS", 15_000)
    rng = np.random.default_rng(0)
    n = 40_000
    text = np.array(["{" + "x" * int(k) + f":{i}" + "é" * int(i % 3) + "}" for i, k in
                     enumerate(rng.integers(300, 700, n))])
    assert sum(len(x.encode()) for x in text) > 1.2 * g.ARROW_TEXT_CHUNK_BYTES
    cols = [SimpleNamespace(name="context", type="VARCHAR"), SimpleNamespace(name="visitor", type="VARCHAR"),
            SimpleNamespace(name="kind", type="VARCHAR"), SimpleNamespace(name="value", type="DOUBLE")]
    table_def = SimpleNamespace(columns=cols, column_names=[c.name for c in cols])
    visitors = np.array([f"V{i:07d}" for i in range(5000)])
    idx = rng.integers(0, 5000, n)
    kind = np.where(rng.random(n) < 0.5, -1, rng.integers(0, 2, n))
    columns = {"context": text, "visitor": g._Take(visitors, idx),
               "kind": g._Take(np.array(["a", "b"]), kind, nullable=True), "value": rng.random(n)}
    plain = {**columns, "visitor": visitors[idx], "kind": np.where(kind < 0, None, np.array(["a", "b"])[
        np.maximum(kind, 0)]).astype(object)}
    _write_one_piece(table_def, plain, tmp_path / "one.parquet", 15_000)
    for chunk_rows in (997, 15_000, 100_000):
        assert g._write(table_def, columns, tmp_path / f"c{chunk_rows}.parquet", chunk_rows) == n
        assert (tmp_path / f"c{chunk_rows}.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    starts = g._text_chunk_starts(text)
    assert starts.size >= 2 and starts[0] == 0
    assert starts.tolist() == np.cumsum([0] + [len(c) for c in __import__("pyarrow").array(text).chunks])[:-1].tolist()


def test_generate_command_line_chunk_rows(tmp_path):
    from click.testing import CliRunner

    from retail_lift.cli import main
    runner = CliRunner()
    ok = runner.invoke(main, ["generate", "--preset", "tiny", "--seed", "3", "--out", str(tmp_path / "a"), "--quiet",
                              "--chunk-rows", "500"])
    assert ok.exit_code == 0, ok.output
    assert "1,000 customers" in ok.output
    generate_world("tiny", seed=3, out=tmp_path / "b", progress=False)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    bad = runner.invoke(main, ["generate", "--preset", "tiny", "--out", str(tmp_path / "c"), "--chunk-rows", "0"])
    assert bad.exit_code == 2 and "--chunk-rows" in bad.output
