"""Experiments end to end on the tiny world (issue 20): the SQL sufficient statistics against an independent
pandas computation (exact), one decision per experiment x treatment variant, the vars experiments_as_of /
experiments_data_complete, and bad declarations that give 'invalid: <reason>' while the build passes.

The statistics and decisions tests reuse the session's tiny build; the vars and bad-input tests rebuild only
the experiment models on a copy of it (a few seconds each).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from helpers import PROJECT_DIR, run_dbt

from retail_lift.tables.experiments import ml_experiment_decisions

pytestmark = pytest.mark.dbt

SUMS = ["sum_y", "sumsq_y", "sum_d", "sumsq_d", "sum_yd", "sum_x", "sumsq_x", "sum_xy", "sum_e", "sumsq_e",
        "sum_xe", "sum_ye", "sum_de", "sum_dx"]
EXPERIMENT_MODELS = ["fct_experiment_exposures", "fct_experiment_daily_looks", "fct_experiment_variant_stats",
                     "ml_experiment_decisions"]
# tests of models outside the selection (e.g. the uplift marts read the exposures) are not rerun
CAUTIOUS = ["--indirect-selection", "cautious"]


def _read(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def _copy_build(tiny_warehouse: Path, tmp_path: Path) -> Path:
    work = tmp_path / "build"
    work.mkdir()
    shutil.copy(tiny_warehouse, work / "warehouse.duckdb")
    return work


def _pandas_looks(exposures: pd.DataFrame, experiments: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The daily looks computed from the exposures and the metric definitions file, without SQL."""
    ex = exposures[exposures["assigned_at"] < exposures["analysis_ends_at"]].copy()
    started = experiments.set_index("experiment_id")["started_at"]
    rows = []
    for exp_id, g in ex.groupby("experiment_id"):
        start = started.get(exp_id, pd.NaT)
        start = (g["assigned_at"].min() if pd.isna(start) else start).date()
        last = (g["analysis_ends_at"].max() - pd.Timedelta(days=1)).date()
        first = min(start + dt.timedelta(days=1), last)
        dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        assigned_on = g["assigned_at"].dt.date.clip(lower=first)
        closed_on = g["window_ends_at"].dt.date.clip(lower=first, upper=last).where(g["is_window_closed"])
        for m in metrics.to_dict("records"):
            y = g[m["numerator"]].astype(float)
            cap = None
            if not pd.isna(m["winsorize_percentile"]):
                basis = np.sort(g[f"pre_window_{m['numerator']}"].astype(float).to_numpy())
                basis = basis[basis > 0]
                if basis.size:
                    cap = basis[math.ceil(m["winsorize_percentile"] * basis.size) - 1]
                    y = y.clip(upper=cap)
            d = g[m["denominator"]].astype(float) if isinstance(m["denominator"], str) else pd.Series(1.0, g.index)
            x = g[m["covariate"]].astype(float) if isinstance(m["covariate"], str) else pd.Series(0.0, g.index)
            e = (g[m["covariate_denominator"]].astype(float) if isinstance(m["covariate_denominator"], str)
                 else pd.Series(1.0, g.index))
            prods = {"sum_y": y, "sumsq_y": y * y, "sum_d": d, "sumsq_d": d * d, "sum_yd": y * d, "sum_x": x,
                     "sumsq_x": x * x, "sum_xy": x * y, "sum_e": e, "sumsq_e": e * e, "sum_xe": x * e,
                     "sum_ye": y * e, "sum_de": d * e, "sum_dx": d * x}
            for variant in sorted(g["variant"].unique()):
                in_variant = g["variant"] == variant
                for look in dates:
                    closed = in_variant & (closed_on <= look)
                    row = {"experiment_id": exp_id, "variant": variant, "metric_name": m["metric_name"],
                           "look_date": look, "users": int(closed.sum()),
                           "open_window_users": int((in_variant & (assigned_on <= look)).sum() - closed.sum()),
                           "winsor_cap": cap}
                    row.update({k: float(v[closed].sum()) for k, v in prods.items()})
                    rows.append(row)
    return pd.DataFrame(rows)


def test_looks_and_stats_equal_an_independent_pandas_computation(tiny_warehouse):
    db = tiny_warehouse
    exposures = _read(db, "select * from marts.fct_experiment_exposures")
    experiments = _read(db, "select * from staging.stg_shop__experiments")
    metrics = pd.read_csv(PROJECT_DIR / "seeds" / "experiment_metrics.csv")
    sql = _read(db, "select * from marts.fct_experiment_daily_looks")
    sql["look_date"] = pd.to_datetime(sql["look_date"]).dt.date
    want = _pandas_looks(exposures, experiments, metrics)
    key = ["experiment_id", "variant", "metric_name", "look_date"]
    assert len(sql) == len(want) > 0
    merged = want.merge(sql, on=key, how="outer", suffixes=("_pd", "_sql"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][key].head()
    for col in ["users", "open_window_users"]:
        assert (merged[f"{col}_pd"] == merged[f"{col}_sql"]).all(), col
    for col in [*SUMS, "winsor_cap"]:
        a, b = merged[f"{col}_pd"].astype(float), merged[f"{col}_sql"].astype(float)
        assert np.allclose(a, b, rtol=1e-12, atol=1e-9, equal_nan=True), (col, merged.loc[~np.isclose(a, b), key])
    # the caps are positive and the windows close: the last look has every closed exposure
    assert (sql["winsor_cap"].dropna() > 0).all() and sql["winsor_cap"].notna().any()
    last = sql[sql["look_date"] == sql.groupby("experiment_id")["look_date"].transform("max")]
    stats = _read(db, "select * from marts.fct_experiment_variant_stats")
    both = last.merge(stats, on=["experiment_id", "variant", "metric_name"], suffixes=("", "_stats"))
    assert len(both) == len(stats) == len(last)
    for col in ["users", "open_window_users", *SUMS]:
        assert np.allclose(both[col], both[f"{col}_stats"], rtol=0, atol=0), col

    # exposure measures from the staging tables and fct_sessions (pre-period from the data, up to a year)
    orders = _read(db, "select customer_id, ordered_at, coalesce(amount, 0) as amount from staging.stg_shop__orders")
    events = _read(db, "select min(event_at) as t from staging.stg_shop__events")
    sessions = _read(db, "select c.customer_id, s.session_started_at from marts.fct_sessions s "
                         "join staging.stg_shop__customers c on s.visitor_id = c.visitor_id")
    data_start = pd.Timestamp(min(orders["ordered_at"].min(), events["t"].iloc[0]).date())
    e = exposures.set_index("assignment_id")
    pre_start = (e["assigned_at"] - pd.Timedelta(days=365)).clip(lower=data_start)
    assert (e["pre_period_starts_at"] == pre_start).all()
    o = e[["customer_id", "assigned_at"]].reset_index().merge(orders, on="customer_id")
    pre = o[(o["ordered_at"] < o["assigned_at"]) & (o["ordered_at"] >= o["assignment_id"].map(pre_start))]
    assert np.allclose(pre.groupby("assignment_id")["amount"].sum().reindex(e.index, fill_value=0), e["pre_revenue"])
    s = e[["customer_id", "assigned_at", "window_ends_at", "analysis_ends_at", "is_window_closed"]].reset_index() \
        .merge(sessions, on="customer_id")
    inside = s[(s["session_started_at"] > s["assigned_at"]) & (s["session_started_at"] <= s["window_ends_at"])
               & (s["session_started_at"] < s["analysis_ends_at"])]
    want_sessions = inside.groupby("assignment_id").size().reindex(e.index, fill_value=0).where(e["is_window_closed"])
    assert want_sessions.fillna(-1).astype(int).equals(e["sessions"].fillna(-1).astype(int))
    assert e["pre_sessions"].sum() > 0 and e["sessions"].sum() > 0


def test_one_decision_per_experiment_and_treatment_variant(tiny_warehouse):
    decisions = _read(tiny_warehouse, "select * from ml.ml_experiment_decisions")
    experiments = _read(tiny_warehouse, "select * from staging.stg_shop__experiments")
    expected = {(r.experiment_id, p.split(":")[0].strip()) for r in experiments.itertuples()
                for p in r.planned_split.split(",") if p.split(":")[0].strip() != r.control_variant}
    assert set(zip(decisions["experiment_id"], decisions["variant"], strict=True)) == expected
    assert len(decisions) == len(expected)
    assert decisions["decision_reason"].str.len().gt(10).all()
    allowed = {"ship", "do not ship", "keep running", "inconclusive", "invalid: SRM"}
    assert decisions["decision"].map(lambda d: d in allowed or d.startswith("invalid: ")).all()
    # the tiny world's experiments have ended and every window closed: final decisions only
    assert decisions["is_final"].all() and not (decisions["decision"] == "keep running").any()


def test_as_of_keeps_running_until_windows_close_and_data_complete_closes_them(tiny_warehouse, tmp_path):
    experiments = _read(tiny_warehouse, "select * from staging.stg_shop__experiments order by started_at")
    first = experiments.iloc[0]
    as_of = (first["ended_at"] + pd.Timedelta(days=2)).date()  # assignment over, every window still open
    work = _copy_build(tiny_warehouse, tmp_path)
    raw, truth = tiny_warehouse.parent / "raw", tiny_warehouse.parent / "truth"
    run_dbt(["build", "-s", *EXPERIMENT_MODELS, *CAUTIOUS, "--vars", f"{{experiments_as_of: '{as_of}'}}"],
            raw, truth, work)
    d = _read(work / "warehouse.duckdb", "select * from ml.ml_experiment_decisions")
    mine = d[d["experiment_id"] == first["experiment_id"]]
    close = (first["ended_at"] + pd.Timedelta(days=int(first["attribution_days"]))).date()
    assert len(mine) >= 1 and (mine["decision"] == "keep running").all()
    assert mine["decision_reason"].str.contains(f"windows open until {close}", regex=False).all()
    assert (mine["open_window_users"] > 0).all() and (~mine["is_final"]).all()
    assert (pd.to_datetime(mine["as_of"]).dt.date == as_of).all()

    run_dbt(["build", "-s", *EXPERIMENT_MODELS, *CAUTIOUS, "--vars",
             f"{{experiments_as_of: '{as_of}', experiments_data_complete: true}}"], raw, truth, work)
    d = _read(work / "warehouse.duckdb", "select * from ml.ml_experiment_decisions")
    mine = d[d["experiment_id"] == first["experiment_id"]]
    assert mine["is_final"].all() and not (mine["decision"] == "keep running").any()
    assert mine["decision_reason"].str.contains("data declared complete", regex=False).all()
    assert (mine["open_window_users"] == 0).all() and (mine["control_users"] > 0).all()
    truncated = _read(work / "warehouse.duckdb", "select count(*) as n from marts.fct_experiment_exposures "
                      f"where is_window_truncated and experiment_id = '{first['experiment_id']}'")
    assert truncated["n"].iloc[0] > 0


def test_bad_declarations_are_invalid_and_the_build_passes(tiny_warehouse, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(tiny_warehouse.parent / "raw", raw)
    path = raw / "experiments.parquet"
    exps = pd.read_parquet(path)
    ids = sorted(exps["experiment_id"])  # exp_banner_bogo, exp_cart_popup, exp_email_offer
    exps.loc[exps["experiment_id"] == ids[0], "planned_split"] = \
        exps.loc[exps["experiment_id"] == ids[0], "planned_split"] + ",ghost_variant:1"
    exps.loc[exps["experiment_id"] == ids[1], "planned_split"] = "control:0,popup_cart_reminder:0"
    exps.loc[exps["experiment_id"] == ids[2], "primary_metric"] = "no_such_metric"
    exps.to_parquet(path, index=False)
    work = _copy_build(tiny_warehouse, tmp_path)
    run_dbt(["build", "-s", "base_shop__experiments", "stg_shop__experiments", "+stg_shop__quarantined_rows",
             *EXPERIMENT_MODELS, *CAUTIOUS], raw, tiny_warehouse.parent / "truth", work)
    d = _read(work / "warehouse.duckdb", "select * from ml.ml_experiment_decisions").set_index("experiment_id")
    assert d["decision"].str.startswith("invalid: ").all() and not (d["decision"] == "ship").any()
    assert d.loc[[ids[0]], "decision"].str.contains("'ghost_variant' missing from the assignments").all()
    assert d.loc[[ids[1]], "decision"].str.contains("planned split").all()
    assert d.loc[[ids[2]], "decision"].str.contains("no_such_metric").all()

    # a registry entry that does not parse: that experiment only is invalid (no dbt needed)
    looks = _read(tiny_warehouse, "select * from marts.fct_experiment_daily_looks")
    experiments = _read(tiny_warehouse, "select * from staging.stg_shop__experiments")
    registry = pd.read_csv(PROJECT_DIR / "seeds" / "experiment_registry.csv")
    registry.loc[registry["experiment_id"] == ids[2], "role"] = "primry"
    out = ml_experiment_decisions({"fct_experiment_daily_looks": looks, "stg_shop__experiments": experiments,
                                   "experiment_registry": registry}).set_index("experiment_id")
    assert out.loc[[ids[2]], "decision"].str.startswith("invalid: bad registry entry").all()
    assert not out.loc[[ids[0], ids[1]], "decision"].str.startswith("invalid: bad").any()
