"""A small warehouse for the decision API: ml.ml_bandit_published_policy built by the table layer's helpers
from a simulated ledger (no dbt), plus the marts.fct_decision_ledger columns the API reads."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from retail_lift.evaluation.bandit_simulation import simulate_ledger
from retail_lift.tables.bandit import published_arms, published_policies

CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}


def _evaluation(active: str) -> pd.DataFrame:
    """The part of a policy_evaluation table that published_policies reads: ``active`` promoted
    (or, for "logging", every candidate kept out by the gate)."""
    names = ["logging", "lints", "thompson"]
    return pd.DataFrame({
        "policy_id": names,
        "is_champion": [n == "logging" for n in names],
        "gate_verdict": ["promote" if n == active else ("keep" if n == "logging" else "fail") for n in names],
    })


def write_warehouse(path, published: pd.DataFrame, ledger: pd.DataFrame | None = None) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists ml")
        con.register("published", published)
        con.execute("create or replace table ml.ml_bandit_published_policy as select * from published")
        if ledger is not None:
            con.execute("create schema if not exists marts")
            con.register("ledger", ledger[["decision_id", "customer_id", "decided_at", "context"]])
            con.execute("create or replace table marts.fct_decision_ledger as select * from ledger")
    finally:
        con.close()


@pytest.fixture(scope="session")
def api_world():
    sim = simulate_ledger("tiny", days=20, decisions_per_day=100, pending_days=3, seed=11)
    ledger = sim.ledger.copy()
    end = ledger["decided_at"].max().normalize() + pd.Timedelta(days=1)
    ledger["data_ends_at"] = end
    promotions = pd.DataFrame({"promotion_id": list(sim.arm_names), "launched_at": pd.NaT})
    arms = published_arms(promotions, ledger, end)
    fast = dict(n_mc_draws=100, random_state=0)
    return {
        "sim": sim,
        "ledger": ledger,
        "arms": arms,
        "promoted": published_policies(ledger, _evaluation("lints"), arms, **fast),
        "kept": published_policies(ledger, _evaluation("logging"), arms, **fast),
    }


@pytest.fixture(scope="session")
def api_warehouse(api_world, tmp_path_factory):
    """A warehouse whose active version is the promoted candidate ``lints``."""
    path = tmp_path_factory.mktemp("api_wh") / "warehouse.duckdb"
    write_warehouse(path, api_world["promoted"], api_world["ledger"])
    return path


@pytest.fixture(scope="session")
def kept_warehouse(api_world, tmp_path_factory):
    """A warehouse where the gate kept the logging policy (nothing servable is active)."""
    path = tmp_path_factory.mktemp("api_keep") / "warehouse.duckdb"
    write_warehouse(path, api_world["kept"], api_world["ledger"])
    return path


@pytest.fixture(scope="session")
def empty_warehouse(api_world, tmp_path_factory):
    """A warehouse built from a raw folder without decisions: empty ledger and published tables."""
    path = tmp_path_factory.mktemp("api_empty") / "warehouse.duckdb"
    write_warehouse(path, api_world["kept"].iloc[0:0], api_world["ledger"].iloc[0:0])
    return path
