"""retail_lift.tables.campaign: the campaign tables from their relations and typed configs.

The target list ranks every scored customer and selects a share, broadcast against targeted, fatigue on
closed windows only, the CSV export; vars passed as strings ("500", "None") parse to the same config; the
same tables from DuckDB relations as from pandas; clear errors for bad settings and a model store.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign import discount_levels
from retail_lift.cli import export_campaign_targets
from retail_lift.tables import from_settings
from retail_lift.tables.campaign import (
    BROADCAST_COLUMNS,
    FATIGUE_COLUMNS,
    TARGET_LIST_TABLE_COLUMNS,
    CampaignFatigueConfig,
    CampaignFatigueCurveConfig,
    CampaignTargetListConfig,
    ml_campaign_broadcast_vs_targeted,
    ml_campaign_fatigue,
    ml_campaign_fatigue_curve,
    ml_campaign_target_list,
)

# `features` (a small synthetic fct_customer_features) is a fixture of tests/python/conftest.py


@pytest.fixture(scope="module")
def relations(features) -> dict:
    """The refs of ml_campaign_target_list (no segments: the model reads them when given)."""
    score = features[features["snapshot_role"] == "score"]
    rng = np.random.default_rng(9)
    scores = pd.DataFrame({"customer_id": score["customer_id"], "purchase_probability": rng.uniform(0, 1, len(score))})
    activity = pd.DataFrame({"customer_id": np.repeat(score["customer_id"].to_numpy()[:50], 2),
                             "iso_weekday": 3, "hour_of_day": 20, "events": 5, "sessions_started": 2})
    promotions = pd.DataFrame({"promotion_id": ["email_10pct", "control"], "discount_rate": [0.1, 0.0],
                               "contact_cost": [0.05, 0.0], "gross_margin_rate": [0.35, 0.35]})
    fatigue = pd.DataFrame({"customer_id": ["C0001", "C0002"], "is_fatigued": [True, False]})
    return {"ml_purchase_propensity_scores": scores, "fct_customer_features": features,
            "fct_customer_activity_by_weekday_hour": activity, "dim_campaign_promotions": promotions,
            "ml_campaign_fatigue": fatigue}


def _target_list(relations, **settings) -> pd.DataFrame:
    return ml_campaign_target_list(relations, CampaignTargetListConfig(**settings))


def test_target_list_ranks_everyone_and_selects_a_share(relations):
    t = _target_list(relations, max_contacts_share=0.1)
    assert list(t.columns) == list(TARGET_LIST_TABLE_COLUMNS)
    assert len(t) == 400 and t["rank"].tolist() == list(range(1, len(t) + 1))
    sel = t[t["status"] == "selected"]
    assert len(sel) == 40 and (sel["expected_profit"] > 0).all()
    assert t.loc[t["customer_id"] == "C0001", "status"].item() in ("excluded", "not_profitable")
    assert set(t["discount_rate"]) <= {0.0, 0.05, 0.1, 0.15, 0.2}
    assert t["best_weekday"].eq(3).all() and t["best_hour"].eq(20).all()  # one slot for everyone: the peak
    assert (t["margin_rate"] == 0.35).all() and t["segment_name"].isna().all()
    cmp = ml_campaign_broadcast_vs_targeted({"ml_campaign_target_list": t}).set_index("strategy")
    assert list(cmp.reset_index().columns) == list(BROADCAST_COLUMNS)
    assert cmp.loc["broadcast", "contacts"] == len(t) and cmp.loc["targeted", "contacts"] == 40
    assert cmp.loc["targeted", "expected_roi"] > cmp.loc["broadcast", "expected_roi"]
    # the defaults select 20 % of the candidates
    assert (ml_campaign_target_list(relations)["status"] == "selected").sum() <= 80


def test_target_list_is_empty_without_the_promotion(relations):
    t = _target_list(relations, promotion_id="bogo")
    assert t.empty and list(t.columns) == list(TARGET_LIST_TABLE_COLUMNS)
    assert ml_campaign_broadcast_vs_targeted({"ml_campaign_target_list": t}).empty


def test_budget_contacts_margin_and_segments_are_applied(relations):
    t = _target_list(relations, max_contacts=7)
    assert (t["status"] == "selected").sum() == 7
    budget = _target_list(relations, budget=1.0, max_contacts_share=None)
    assert budget.loc[budget["status"] == "selected", "expected_cost"].sum() <= 1.0
    assert (budget["status"] == "over_budget").any()
    assert (_target_list(relations, margin_rate=0.5)["margin_rate"] == 0.5).all()
    segments = pd.DataFrame({"customer_id": relations["ml_purchase_propensity_scores"]["customer_id"],
                             "segment_name": "loyal"})
    with_segments = ml_campaign_target_list({**relations, "ml_customer_segments": segments})
    assert with_segments["segment_name"].eq("loyal").all()


def test_the_target_list_reads_duckdb_relations_like_pandas(relations):
    con = duckdb.connect()
    rels = {}
    for name, frame in relations.items():
        con.register(f"{name}_frame", frame)
        rels[name] = con.table(f"{name}_frame")
    pd.testing.assert_frame_equal(ml_campaign_target_list(rels), ml_campaign_target_list(relations))


def test_discount_levels_scale_with_the_offer():
    assert discount_levels(0.10) == (0.0, 0.05, 0.1, 0.15, 0.2)
    assert discount_levels(0.0) == (0.0,)
    assert max(discount_levels(0.6)) == 0.95


def test_fatigue_uses_closed_windows_only():
    exposures = pd.DataFrame({
        "customer_id": ["c1", "c1", "c2"],
        "exposed_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
        "is_window_closed": [True, True, False],
        "is_converted": [True, False, None],
    })
    flags = ml_campaign_fatigue({"fct_promotion_exposures": exposures})
    assert flags["customer_id"].tolist() == ["c1"] and flags["n_exposures"].tolist() == [2]
    assert list(flags.columns) == list(FATIGUE_COLUMNS) and not flags["is_fatigued"].any()
    curve = ml_campaign_fatigue_curve({"fct_promotion_exposures": exposures})
    assert curve["exposures"].tolist() == [1, 1] and curve["response_rate"].tolist() == [1.0, 0.0]
    # a window: the contact of 2026-02-01 has no earlier contact within 7 days
    curve = ml_campaign_fatigue_curve({"fct_promotion_exposures": exposures},
                                      CampaignFatigueCurveConfig(window_days=7))
    assert curve["exposures"].tolist() == [2] and curve["prior_exposures"].tolist() == [0]
    assert ml_campaign_fatigue_curve({"fct_promotion_exposures": exposures.iloc[2:]}).empty


def test_export_writes_the_selected_rows(tmp_path, relations):
    t = _target_list(relations, max_contacts=7)
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema ml")
    con.register("t", t)
    con.execute("create table ml.ml_campaign_target_list as select * from t")
    con.close()
    path = export_campaign_targets(db, tmp_path / "out" / "targets.csv")
    back = pd.read_csv(path)
    assert len(back) == 7 and back["rank"].is_monotonic_increasing and "status" not in back.columns
    assert list(back.columns)[:3] == ["customer_id", "rank", "purchase_probability"]


def test_settings_rendered_from_vars_parse():
    """A var passed as a string (dbt run --vars '{campaign_budget: "250.5"}') arrives as one; "None" is unset."""
    rendered = from_settings(CampaignTargetListConfig, "ml_campaign_target_list", promotion_id="email_10pct",
                             budget="None", max_contacts="", max_contacts_share="0.2", margin_rate=None)
    assert rendered == CampaignTargetListConfig()
    config = CampaignTargetListConfig(budget="250.5", max_contacts="7", max_contacts_share="none")
    assert (config.budget, config.max_contacts, config.max_contacts_share) == (250.5, 7, None)
    assert isinstance(config.max_contacts, int)
    assert CampaignFatigueConfig(window_days=14, alpha=1).window_days == 14.0


@pytest.mark.parametrize(("config", "settings", "message"), [
    (CampaignTargetListConfig, {"budget": "lots"}, "ml_campaign_target_list: budget must be a number >= 0 or None"),
    (CampaignTargetListConfig, {"max_contacts": "2.5"}, "ml_campaign_target_list: max_contacts must be an integer"),
    (CampaignTargetListConfig, {"max_contacts": 0}, "ml_campaign_target_list: max_contacts must be an integer >= 1"),
    (CampaignTargetListConfig, {"max_contacts_share": "1.5"}, "ml_campaign_target_list: max_contacts_share must"),
    (CampaignTargetListConfig, {"promotion_id": ""}, "ml_campaign_target_list: promotion_id must be"),
    (CampaignTargetListConfig, {"margin_rate": "0.3"}, "ml_campaign_target_list: margin_rate must be a number"),
    (CampaignFatigueConfig, {"window_days": 0}, "ml_campaign_fatigue: window_days must be a number > 0"),
    (CampaignFatigueConfig, {"alpha": 0}, "ml_campaign_fatigue: alpha must be a number > 0 and <= 1"),
    (CampaignFatigueConfig, {"recent_n": 2.5}, "ml_campaign_fatigue: recent_n must be an integer >= 1"),
    (CampaignFatigueConfig, {"min_recent_exposures": -1}, "ml_campaign_fatigue: min_recent_exposures must be"),
    (CampaignFatigueCurveConfig, {"max_prior": 0}, "ml_campaign_fatigue_curve: max_prior must be an integer >= 1"),
    (CampaignFatigueCurveConfig, {"window_days": -3}, "ml_campaign_fatigue_curve: window_days must be a number"),
])
def test_bad_settings_name_the_model_and_the_key(config, settings, message):
    with pytest.raises(ValueError, match=message):
        config(**settings)


def test_a_model_store_is_not_there_yet(relations):
    with pytest.raises(NotImplementedError, match="ml_campaign_target_list: a model store is not supported yet"):
        ml_campaign_target_list(relations, store=object())
