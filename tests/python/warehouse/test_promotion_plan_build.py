"""The promotion plan on the tiny world (dbt): the shared build's plan, its promotions (why one is left out) and the
"no outcomes yet" report; a second build reuses the stored plan and its holdout, replan makes a new plan and keeps
the old one; orders appended after planned_at with a known effect are measured by rpt_plan_vs_holdout through the
experiment engine; make export-plan's command writes one CSV per channel."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import run_dbt
from scipy import stats

from retail_lift.cli import main

pytestmark = pytest.mark.dbt


def _copy(build: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build / "warehouse.duckdb", to / "warehouse.duckdb")
    for folder in ("raw", "truth", "plans", "models"):
        shutil.copytree(build / folder, to / folder)
    return to


def _df(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def test_the_build_plans_every_scored_customer_and_says_why_promotions_are_left_out(tiny_warehouse):
    plan = _df(tiny_warehouse, "select * from ml.ml_promotion_plan")
    scored = _df(tiny_warehouse, "select distinct customer_id, promotion_id from ml.ml_customer_uplift")
    assert sorted(plan["customer_id"]) == sorted(scored["customer_id"].unique())
    assert plan["plan_id"].nunique() == 1
    assert set(plan["promotion_id"].dropna()) <= set(scored["promotion_id"])
    # a planned row names the customer's strongest feature contributions to the chosen promotion's uplift
    # (registered uplift version, retail_lift.campaign.reasons), then the recency
    planned = plan[plan["promotion_id"].notna()]
    with_contributions = planned["reasons"].str.contains(r"\([+-][0-9.]+ pp\)", regex=True)
    assert len(planned) and with_contributions.mean() > 0.5, planned["reasons"].head().tolist()
    assert planned["reasons"].str.contains("last order|no order yet", regex=True).all()
    promos = _df(tiny_warehouse, "select * from ml.ml_promotion_plan_promotions").set_index("promotion_id")
    staged = _df(tiny_warehouse, "select promotion_id from staging.stg_shop__promotions")
    assert sorted(promos.index) == sorted(staged["promotion_id"])
    assert set(promos.index[promos["is_included"]]) == set(scored["promotion_id"])
    left_out = promos[~promos["is_included"]]
    assert len(left_out) and left_out["reason"].str.startswith("left out: ").all()
    assert (left_out["planned_customers"] == 0).all()
    # the plan is made at the end of the data: no outcomes yet
    rpt = _df(tiny_warehouse, "select * from marts.rpt_plan_vs_holdout")
    assert sorted(rpt["promotion_id"]) == sorted(plan["promotion_id"].dropna().unique())
    assert set(rpt["status"]) == {"no outcomes yet"} and set(rpt["summary"]) == {"no outcomes yet"}
    assert rpt["realised_incremental_margin"].isna().all()
    stored = tiny_warehouse.parent / "plans" / f"{plan['plan_id'].iloc[0]}.json"
    assert stored.exists()


def test_the_frontier_at_the_plans_budget_is_the_built_plan(tiny_warehouse):
    """ml_promotion_plan_frontier solves the plan's problem: at the plan's budget, exactly the plan's totals."""
    frontier = _df(tiny_warehouse, "select * from ml.ml_promotion_plan_frontier order by point, promotion_id")
    plan = _df(tiny_warehouse, "select * from ml.ml_promotion_plan")
    planned = plan[plan["promotion_id"].notna()]
    points = frontier.drop_duplicates("point")
    assert len(points) >= 2 and points["is_plan_budget"].sum() == 1 and set(frontier["plan_id"]) == set(plan["plan_id"])
    at = frontier[frontier["is_plan_budget"]].set_index("promotion_id")
    assert at["planned_customers"].to_dict() == planned["promotion_id"].value_counts().reindex(
        at.index, fill_value=0).to_dict()
    margins = planned.groupby("promotion_id")["expected_incremental_margin"].sum().reindex(at.index, fill_value=0)
    assert at["expected_incremental_margin"].to_numpy() == pytest.approx(margins.to_numpy(), rel=1e-12)
    assert at["total_expected_cost"].iloc[0] == pytest.approx(planned["expected_cost"].sum(), rel=1e-12)
    # the default plan has no budget: its point is the last, the cost of the plan; more budget never earns less
    assert points["is_plan_budget"].iloc[-1] and at["budget"].iloc[0] == pytest.approx(planned["expected_cost"].sum())
    assert (points["total_expected_incremental_margin"].diff().dropna() >= -1e-6).all()


def test_a_second_build_reuses_the_plan_and_replan_makes_a_new_one(tiny_warehouse, tmp_path):
    work = _copy(tiny_warehouse.parent, tmp_path / "b")
    db = work / "warehouse.duckdb"
    before = _df(db, "select * from ml.ml_promotion_plan order by customer_id")
    select = ["run", "--select", "ml_promotion_plan", "ml_promotion_plan_assignments"]
    run_dbt(select, work / "raw", work / "truth", work)
    again = _df(db, "select * from ml.ml_promotion_plan order by customer_id")
    pd.testing.assert_frame_equal(before, again)
    run_dbt([*select, "--vars", "{replan: true}"], work / "raw", work / "truth", work)
    new = _df(db, "select * from ml.ml_promotion_plan order by customer_id")
    assert new["plan_id"].iloc[0] != before["plan_id"].iloc[0]
    assert new["promotion_id"].equals(before["promotion_id"])
    log = _df(db, "select plan_id, count(*) as n from ml.ml_promotion_plan_assignments group by plan_id")
    assert set(log["plan_id"]) == {before["plan_id"].iloc[0], new["plan_id"].iloc[0]}
    assert sorted(p.stem for p in (work / "plans").glob("*.json")) == sorted(set(log["plan_id"]))


def test_orders_after_the_plan_are_measured_against_the_holdout(tiny_warehouse, tmp_path):
    """Exactly half the treated and a fifth of the held-out customers of the largest promotion order 100 (no
    discount) three days after planned_at: the report's effect is that known difference, inside its interval,
    which is Welch's computed here from the same outcomes."""
    work = _copy(tiny_warehouse.parent, tmp_path / "b")
    db = work / "warehouse.duckdb"
    log = _df(db, "select * from ml.ml_promotion_plan_assignments order by customer_id")
    promo = log["promotion_id"].value_counts().index[0]
    g = log[log["promotion_id"] == promo]
    planned_at = pd.Timestamp(g["assigned_at"].iloc[0])
    treated, held = g.loc[~g["is_control"], "customer_id"], g.loc[g["is_control"], "customer_id"]
    k_t, k_h = len(treated) // 2, len(held) // 5
    buyers = [*treated.iloc[:k_t], *held.iloc[:k_h]]
    raw = pd.read_parquet(work / "raw" / "orders.parquet")
    new = pd.DataFrame({c: pd.Series([None] * len(buyers), dtype=raw[c].dtype) for c in raw.columns})
    new["order_id"] = [f"PLAN{i:06d}" for i in range(len(buyers))]
    new["customer_id"] = buyers
    new["ordered_at"] = planned_at + pd.Timedelta(days=3)
    new["amount"], new["discount_amount"], new["channel"] = 100.0, 0.0, "online"
    pd.concat([raw, new], ignore_index=True).to_parquet(work / "raw" / "orders.parquet", index=False)
    run_dbt(["run", "--select", "base_shop__orders", "stg_shop__orders", "ml_plan_vs_holdout", "rpt_plan_vs_holdout"],
            work / "raw", work / "truth", work)
    rpt = _df(db, "select * from marts.rpt_plan_vs_holdout").set_index("promotion_id")
    r = rpt.loc[promo]
    m, c = float(g["margin_rate"].iloc[0]), float(g["contact_cost"].iloc[0])
    n_t, n_h = len(treated), len(held)
    effect = (k_t / n_t - k_h / n_h) * 100 * m - c
    assert r["status"] in ("measured", "window open")
    assert r["incremental_margin_per_customer"] == pytest.approx(effect)
    assert r["realised_incremental_margin"] == pytest.approx(effect * n_t)
    y_t = np.r_[np.full(k_t, 100 * m), np.zeros(n_t - k_t)] - c
    y_h = np.r_[np.full(k_h, 100 * m), np.zeros(n_h - k_h)]
    ci = stats.ttest_ind(y_t, y_h, equal_var=False).confidence_interval(0.9)
    assert (r["realised_ci_low"], r["realised_ci_high"]) == pytest.approx((ci.low * n_t, ci.high * n_t))
    assert r["realised_ci_low"] < effect * n_t < r["realised_ci_high"]
    assert r["summary"].startswith(f"{r['status']}: {effect * n_t:+.2f} (90 % interval")


def test_export_plan_writes_one_csv_per_channel(tiny_warehouse, tmp_path):
    result = CliRunner().invoke(main, ["export-plan", "--out", str(tmp_path / "plan"), "--warehouse",
                                       str(tiny_warehouse)])
    assert result.exit_code == 0, result.output
    plan = _df(tiny_warehouse, "select * from ml.ml_promotion_plan where promotion_id is not null")
    files = sorted((tmp_path / "plan").glob("*.csv"))
    assert [f.stem for f in files] == sorted(plan["channel"].unique())
    for f in files:
        got = pd.read_csv(f)
        want = plan[plan["channel"] == f.stem]
        assert sorted(got["customer_id"]) == sorted(want["customer_id"])
        assert got["is_holdout"].sum() == want["is_holdout"].sum() and got["reasons"].notna().all()
