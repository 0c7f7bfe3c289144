"""retail_lift.tables.bandit: the four bandit models' configs hold their defaults (the gate's and the fallback's
are the family's), bad settings name the model and the key, and each table is the builder's table with the
config, from pandas frames or DuckDB relations.

(The yml and the dbt models against the configs: tests/python/test_tables.py, for every model of MODEL_CONFIGS.)
"""

from __future__ import annotations

import dataclasses

import duckdb
import pandas as pd
import pytest

from retail_lift.bandit.fallback import FALLBACK_MIN_DECISIONS
from retail_lift.bandit.gate import GateConfig
from retail_lift.evaluation.bandit_simulation import simulate_ledger
from retail_lift.tables import defaults, from_settings
from retail_lift.tables.bandit import (
    LEDGER_COLUMNS,
    NO_STORE,
    REGISTRY_COLUMNS,
    SCHEMAS,
    BanditHoldoutProbabilitiesConfig,
    BanditPolicyConfig,
    BanditPolicyEvaluationConfig,
    BanditPublishedPolicyConfig,
    customer_probabilities,
    holdout_probabilities,
    ml_bandit_holdout_probabilities,
    ml_bandit_policy,
    ml_bandit_policy_evaluation,
    ml_bandit_published_policy,
    policy_evaluation,
    published_arms,
    published_policies,
)


def test_the_gate_and_fallback_defaults_are_the_family_defaults():
    config = BanditPolicyEvaluationConfig()
    assert config.gate() == GateConfig()
    assert {f"gate_{k}": v for k, v in dataclasses.asdict(GateConfig()).items() if k != "random_state"} == {
        k: v for k, v in defaults("ml_bandit_policy_evaluation").items() if k.startswith("gate_")}
    assert BanditPublishedPolicyConfig().fallback_min_decisions == FALLBACK_MIN_DECISIONS
    assert "holdout_fraction" not in defaults("ml_bandit_published_policy")
    assert defaults("ml_bandit_policy") == {}
    # the shared training settings agree between the three models that train
    shared = ("random_state", "n_mc_draws", "min_settled_decisions", "candidate_params")
    assert len({tuple(str(defaults(m)[k]) for k in shared) for m in
                ("ml_bandit_holdout_probabilities", "ml_bandit_policy_evaluation", "ml_bandit_published_policy")}) == 1


def test_settings_are_converted_and_the_gate_takes_the_seed():
    config = from_settings(BanditPolicyEvaluationConfig, "ml_bandit_policy_evaluation", holdout_fraction=1,
                           n_bootstrap="50", random_state=7, gate_alpha=None, candidate_params={"linucb": {"alpha": 2}})
    assert config.holdout_fraction == 1.0 and config.n_bootstrap == 50 and config.gate_alpha == 0.025
    assert config.gate().random_state == 7 and config.params == {"linucb": {"alpha": 2}}
    assert BanditHoldoutProbabilitiesConfig().params is None  # {}: every candidate with its defaults


@pytest.mark.parametrize(("config_class", "model", "settings", "message"), [
    (BanditHoldoutProbabilitiesConfig, "ml_bandit_holdout_probabilities", {"n_mc_draws": "many"}, "n_mc_draws must be"),
    (BanditHoldoutProbabilitiesConfig, "ml_bandit_holdout_probabilities", {"min_settled_decisions": True},
     "min_settled_decisions must be"),
    (BanditPublishedPolicyConfig, "ml_bandit_published_policy", {"candidate_params": {"nope": {}}},
     r"candidate_params names unknown candidate\(s\) \['nope'\]"),
    (BanditPublishedPolicyConfig, "ml_bandit_published_policy", {"candidate_params": [1]}, "candidate_params must"),
    (BanditPolicyEvaluationConfig, "ml_bandit_policy_evaluation", {"n_bootstrap": None}, "n_bootstrap must be"),
])
def test_bad_settings_name_the_model_and_the_key(config_class, model, settings, message):
    with pytest.raises(ValueError, match=f"{model}: {message}"):
        config_class(**settings)


def test_bad_gate_settings_are_the_gate_errors():
    with pytest.raises(ValueError, match="GateConfig.alpha must lie in"):
        BanditPolicyEvaluationConfig(gate_alpha=2)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['holdout_fraction'\]"):
        from_settings(BanditPublishedPolicyConfig, "ml_bandit_published_policy", holdout_fraction=0.3)


@pytest.fixture(scope="module")
def marts():
    sim = simulate_ledger("tiny", days=20, decisions_per_day=80, pending_days=3, seed=3)
    ledger = sim.ledger.copy()
    end = ledger["decided_at"].max().normalize() + pd.Timedelta(days=1)
    ledger["data_ends_at"] = end
    ledger["unused_column"] = 1
    promotions = pd.DataFrame({"promotion_id": [*sim.arm_names, "later"], "launched_at": [pd.NaT] * len(sim.arm_names)
                               + [end + pd.Timedelta(days=5)], "discount_rate": 0.1})
    return ledger, promotions


FAST = dict(random_state=1, n_mc_draws=150)


def _plain(table):
    """A table without its registry columns (what the builder returns)."""
    return table.drop(columns=[c for c in REGISTRY_COLUMNS if c in table.columns])


def test_each_table_is_the_builder_with_the_config(marts):
    ledger, promotions = marts
    end = ledger["data_ends_at"].max()
    arms = published_arms(promotions, ledger, end)
    assert "later" not in arms
    rel = {"fct_decision_ledger": ledger, "stg_shop__promotions": promotions}
    used = ledger[list(LEDGER_COLUMNS)]

    config = BanditHoldoutProbabilitiesConfig(**FAST)
    holdout = ml_bandit_holdout_probabilities(rel, config)
    pd.testing.assert_frame_equal(_plain(holdout), holdout_probabilities(used, arms, **FAST))

    config = BanditPolicyEvaluationConfig(n_bootstrap=40, gate_n_bootstrap=1000, **FAST)
    evaluation = ml_bandit_policy_evaluation(rel, config)
    pd.testing.assert_frame_equal(_plain(evaluation),
                                  policy_evaluation(used, arms, n_bootstrap=40, gate=config.gate(), **FAST))
    assert set(evaluation["gate_n_bootstrap"]) == {1000}
    assert list(evaluation.columns) == [*SCHEMAS["policy_evaluation"], *REGISTRY_COLUMNS]

    published = ml_bandit_published_policy({**rel, "ml_bandit_policy_evaluation": evaluation},
                                           BanditPublishedPolicyConfig(fallback_min_decisions=50, **FAST))
    pd.testing.assert_frame_equal(_plain(published), published_policies(used, evaluation, arms, created_at=end,
                                                                         fallback_min_decisions=50, **FAST))
    assert published["is_active"].sum() == 1 and published["is_fallback"].sum() == 1
    # without a model store every call trains, and says so
    for table in (holdout, evaluation, published):
        assert table["model_version"].isna().all() and table["trained_at"].isna().all()
        assert set(table["registry_action"]) == {"train"} and set(table["registry_reason"]) == {NO_STORE}
        assert table[list(REGISTRY_COLUMNS)].dtypes.astype(str).tolist() == ["Int64", "datetime64[us]",
                                                                             "string", "string"]

    policy = ml_bandit_policy({"ml_bandit_published_policy": published, "fct_decision_ledger": ledger})
    pd.testing.assert_frame_equal(_plain(policy), customer_probabilities(published, used))
    assert policy["model_version"].isna().all() and policy["trained_at"].isna().all()


def test_the_tables_read_duckdb_relations(marts):
    ledger, promotions = marts
    con = duckdb.connect()
    con.register("ledger_frame", ledger)
    con.register("promotions_frame", promotions)
    relations = {"fct_decision_ledger": con.table("ledger_frame"),
                 "stg_shop__promotions": con.table("promotions_frame")}
    frames = {"fct_decision_ledger": ledger, "stg_shop__promotions": promotions}
    config = BanditHoldoutProbabilitiesConfig(**FAST)
    pd.testing.assert_frame_equal(ml_bandit_holdout_probabilities(relations, config),
                                  ml_bandit_holdout_probabilities(frames, config))


def test_too_few_decisions_give_empty_tables_but_the_logging_policy_is_published(marts):
    ledger, promotions = marts
    few = ledger.sort_values("decided_at").head(60)
    rel = {"fct_decision_ledger": few, "stg_shop__promotions": promotions}
    assert ml_bandit_holdout_probabilities(rel, BanditHoldoutProbabilitiesConfig(**FAST)).empty
    evaluation = ml_bandit_policy_evaluation(rel, BanditPolicyEvaluationConfig(**FAST))
    assert evaluation.empty and list(evaluation.columns) == [*SCHEMAS["policy_evaluation"], *REGISTRY_COLUMNS]
    published = ml_bandit_published_policy({**rel, "ml_bandit_policy_evaluation": evaluation},
                                           BanditPublishedPolicyConfig(**FAST))
    assert published["policy_id"].tolist() == ["logging", "fallback"]
    assert published["is_active"].tolist() == [True, False]
    none = {"fct_decision_ledger": ledger.iloc[:0], "stg_shop__promotions": promotions,
            "ml_bandit_policy_evaluation": evaluation}
    assert ml_bandit_published_policy(none).empty
    assert ml_bandit_policy({"ml_bandit_published_policy": ml_bandit_published_policy(none),
                             "fct_decision_ledger": ledger}).empty


@pytest.mark.parametrize("model", [ml_bandit_holdout_probabilities, ml_bandit_policy_evaluation,
                                   ml_bandit_published_policy])
def test_a_model_store_must_be_a_registry(model):
    with pytest.raises(TypeError, match=f"{model.__name__}: store must be a retail_lift.registry.ModelRegistry"):
        model({}, store=object())


def test_the_policy_table_trains_nothing_and_takes_no_store():
    with pytest.raises(NotImplementedError, match="ml_bandit_policy: a model store is not supported yet"):
        ml_bandit_policy({}, store=object())


def test_the_policy_config_has_no_settings():
    assert dataclasses.fields(BanditPolicyConfig) == ()
