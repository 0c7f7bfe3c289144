"""The bandit tables with a model store: the candidates are trained and the off-policy evaluation (the gate) is
run once per decision ledger; a call with the same ledger and settings republishes the champion's tables
(retail_lift.tables.bandit + retail_lift.bandit.champion + retail_lift.registry)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import retail_lift.tables.bandit as tables_bandit
from retail_lift.evaluation.bandit_simulation import simulate_ledger
from retail_lift.registry import CHAMPION, ModelMismatchError, ModelRegistry
from retail_lift.tables.bandit import (
    REGISTRY_COLUMNS,
    BanditHoldoutProbabilitiesConfig,
    BanditPolicyEvaluationConfig,
    BanditPublishedPolicyConfig,
    ml_bandit_holdout_probabilities,
    ml_bandit_policy,
    ml_bandit_policy_evaluation,
    ml_bandit_published_policy,
)

FAST = dict(random_state=1, n_mc_draws=150)
HOLDOUT = "ml_bandit_holdout_probabilities"
EVALUATION = "ml_bandit_policy_evaluation"
PUBLISHED = "ml_bandit_published_policy"
DECISION_COLUMNS = ["registry_action", "registry_reason"]


@pytest.fixture(scope="module")
def marts():
    """A simulated ledger of 20 days (the last 3 pending) and its promotions."""
    sim = simulate_ledger("tiny", days=20, decisions_per_day=80, pending_days=3, seed=3)
    ledger = sim.ledger.copy()
    ledger["data_ends_at"] = ledger["decided_at"].max().normalize() + pd.Timedelta(days=1)
    promotions = pd.DataFrame({"promotion_id": list(sim.arm_names), "launched_at": pd.NaT})
    return ledger, promotions


def _earlier(ledger: pd.DataFrame, days: int = 6) -> pd.DataFrame:
    """The ledger without its last ``days`` days of decisions (the last 3 are pending: 6 drops settled ones too)."""
    cut = ledger["decided_at"].max() - pd.Timedelta(days=days)
    return ledger.loc[ledger["decided_at"] <= cut].reset_index(drop=True)


def _build(ledger, promotions, store, *, evaluation_config=None, **settings):
    """The three tables that train and the policy table, as one dbt build makes them."""
    rel = {"fct_decision_ledger": ledger, "stg_shop__promotions": promotions}
    holdout = ml_bandit_holdout_probabilities(rel, BanditHoldoutProbabilitiesConfig(**FAST, **settings), store=store)
    config = evaluation_config or BanditPolicyEvaluationConfig(n_bootstrap=40, **FAST,
                                                               **settings)
    evaluation = ml_bandit_policy_evaluation(rel, config, store=store)
    published = ml_bandit_published_policy({**rel, "ml_bandit_policy_evaluation": evaluation},
                                           BanditPublishedPolicyConfig(fallback_min_decisions=50, **FAST, **settings),
                                           store=store)
    policy = ml_bandit_policy({"ml_bandit_published_policy": published, "fct_decision_ledger": ledger})
    return {HOLDOUT: holdout, EVALUATION: evaluation, PUBLISHED: published, "ml_bandit_policy": policy}


def _no_training(monkeypatch):
    """Any fit of a candidate or of the fallback, or any off-policy evaluation, fails the test."""
    def fail(*args, **kwargs):
        raise AssertionError("a reusing build must not fit a policy nor rerun the off-policy evaluation")

    for name in ("train_candidates", "run_offline_evaluation", "fit_fallback"):
        monkeypatch.setattr(tables_bandit, name, fail)


def _actions(tables) -> dict[str, set]:
    return {name: set(tables[name]["registry_action"]) for name in (HOLDOUT, EVALUATION, PUBLISHED)}


@pytest.fixture
def trained(marts, tmp_path):
    ledger, promotions = marts
    store = ModelRegistry(tmp_path / "models")
    return store, _build(ledger, promotions, store)


def test_a_second_build_with_the_same_ledger_fits_and_evaluates_nothing(marts, trained, monkeypatch):
    ledger, promotions = marts
    store, first = trained
    assert _actions(first) == {HOLDOUT: {"train"}, EVALUATION: {"train"}, PUBLISHED: {"train"}}
    assert set(first[EVALUATION]["registry_reason"]) == {"no registered champion"}
    _no_training(monkeypatch)
    second = _build(ledger, promotions, store)
    third = _build(ledger.sample(frac=1.0, random_state=5), promotions, store)  # read in another row order
    assert _actions(second) == {HOLDOUT: {"reuse"}, EVALUATION: {"reuse"}, PUBLISHED: {"reuse"}}
    reason = second[EVALUATION]["registry_reason"].iloc[0]
    assert reason.startswith("reused version 1 (trained ")
    assert f"no new decisions (ledger of {len(ledger)} rows, last decision " in reason
    for name in (HOLDOUT, EVALUATION, PUBLISHED):
        assert [v.version for v in store.versions(name)] == [1]
        # two reusing builds: identical tables; and the training build's but for the decision columns
        pd.testing.assert_frame_equal(second[name], third[name])
        pd.testing.assert_frame_equal(first[name].drop(columns=DECISION_COLUMNS),
                                      second[name].drop(columns=DECISION_COLUMNS))
        assert second[name]["model_version"].eq(1).all()
        assert (second[name]["trained_at"] == store.get_alias(name).trained_at).all()
    pd.testing.assert_frame_equal(first["ml_bandit_policy"], second["ml_bandit_policy"])
    assert first["ml_bandit_policy"]["model_version"].eq(1).all()


def test_the_version_records_the_candidates_the_ledger_and_the_evaluation(marts, trained):
    ledger, _ = marts
    store, first = trained
    version = store.get_alias(EVALUATION)
    rec = version.record
    assert rec["params"]["n_bootstrap"] == 40 and rec["params"]["gate_n_bootstrap"] == 1000
    assert rec["params"]["random_state"] == 1 and "retrain" not in rec["params"]
    fingerprint = rec["inputs"]["ledger"]
    assert fingerprint["rows"] == len(ledger) and len(fingerprint["sha256"]) == 64
    assert pd.Timestamp(fingerprint["max_decided_at"]) == ledger["decided_at"].max()
    assert rec["training_data"] == fingerprint and rec["inputs"]["arms"] == sorted(ledger["promotion_id"].unique())
    assert [d["column"] for d in rec["feature_spec"]] == list(tables_bandit.LEDGER_COLUMNS)
    evaluation = first[EVALUATION]
    dr = evaluation[(evaluation["policy_id"] == "linucb") & (evaluation["estimator"] == "dr")]["value"].iloc[0]
    assert rec["metrics"]["linucb.dr"] == pytest.approx(dr)
    assert set(rec["model_card"]["verdicts"]) == set(evaluation["policy_id"])
    assert rec["code_version"]["package_version"] and rec["training_reason"] == "no registered champion"
    candidates = store.load_model(version)  # the fitted policy states
    assert sorted(candidates) == sorted(set(evaluation["policy_id"]) - {"logging"})
    assert candidates.n_train == int(evaluation["n_train_decisions"].iloc[0])
    published = store.load_model(store.get_alias(PUBLISHED))
    assert set(published) == {"candidates", "fallback"}
    assert store.get_alias(PUBLISHED).record["inputs"]["evaluation"]["rows"] == len(evaluation)


def test_appended_decisions_refit_and_re_evaluate(marts, tmp_path):
    ledger, promotions = marts
    store = ModelRegistry(tmp_path / "models")
    before = _build(_earlier(ledger), promotions, store)
    after = _build(ledger, promotions, store)
    assert _actions(after) == {HOLDOUT: {"train"}, EVALUATION: {"train"}, PUBLISHED: {"train"}}
    reason = after[EVALUATION]["registry_reason"].iloc[0]
    assert reason.startswith(f"new decisions since version 1: ledger of {len(_earlier(ledger))} -> "
                             f"{len(ledger)} rows, last decision ")
    assert after[EVALUATION]["model_version"].eq(2).all()
    assert store.get_alias(EVALUATION).record["previous_champion"] == 1
    # the evaluation was rerun on the new holdout
    assert after[EVALUATION]["n_decisions"].max() > before[EVALUATION]["n_decisions"].max()


def test_settled_rewards_with_the_same_decisions_re_evaluate(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    settled = ledger.copy()
    pending = settled["is_converted"].isna()
    assert pending.any()
    settled.loc[pending, "is_converted"] = 0
    settled.loc[pending, "is_pending"] = False
    again = _build(settled, promotions, store)
    assert set(again[EVALUATION]["registry_action"]) == {"train"}
    assert set(again[EVALUATION]["registry_reason"]) == {
        f"the decision ledger changed since version 1 (same {len(ledger)} rows and last decision, other content: "
        f"e.g. rewards that settled)"}


def test_other_settings_re_evaluate_and_retrain_registers_a_new_champion(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    other = BanditPolicyEvaluationConfig(n_bootstrap=50, **FAST)
    changed = _build(ledger, promotions, store, evaluation_config=other)
    assert set(changed[EVALUATION]["registry_reason"]) == {"settings changed since version 1: n_bootstrap 40 -> 50"}
    assert set(changed[HOLDOUT]["registry_action"]) == {"reuse"}
    retrained = _build(ledger, promotions, store, retrain="true")
    assert _actions(retrained) == {HOLDOUT: {"train"}, EVALUATION: {"train"}, PUBLISHED: {"train"}}
    assert set(retrained[EVALUATION]["registry_reason"]) == {"retrain requested (var retrain: true)"}
    assert [v.version for v in store.versions(EVALUATION)] == [1, 2, 3]
    assert store.get_alias(HOLDOUT).version == 2 and store.get_alias(HOLDOUT).record["previous_champion"] == 1


def test_a_changed_evaluation_refits_the_published_versions(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    other = BanditPolicyEvaluationConfig(n_bootstrap=40, gate_alpha=0.2, **FAST)
    changed = _build(ledger, promotions, store, evaluation_config=other)
    assert set(changed[PUBLISHED]["registry_action"]) == {"train"}
    assert changed[PUBLISHED]["registry_reason"].str.fullmatch(
        r"the input evaluation changed since version 1: 35 rows, content [0-9a-f]{12} -> 35 rows, "
        r"content [0-9a-f]{12}").all()


def test_an_old_champion_is_retrained(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    record_file = store.get_alias(EVALUATION).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=45)).isoformat()
    record_file.write_text(json.dumps(record))
    again = _build(ledger, promotions, store)
    assert "days old (max_model_age_days 30)" in again[EVALUATION]["registry_reason"].iloc[0]
    assert set(again[HOLDOUT]["registry_action"]) == {"reuse"}


@pytest.mark.parametrize("damage", ["corrupt", "delete", "artifact"])
def test_a_corrupted_or_missing_file_retrains_or_stops(marts, trained, damage):
    ledger, promotions = marts
    store, first = trained
    version = store.get_alias(EVALUATION)
    if damage == "corrupt":
        version.model_file.write_bytes(b"not a pickle")
    elif damage == "delete":
        version.model_file.unlink()
    else:
        (version.path / "table.parquet").write_bytes(b"not parquet")
    rel = {"fct_decision_ledger": ledger, "stg_shop__promotions": promotions}
    fail = BanditPolicyEvaluationConfig(n_bootstrap=40, registry_on_mismatch="fail", **FAST)
    with pytest.raises(ModelMismatchError, match=r"ml_bandit_policy_evaluation champion version 1 cannot be used"):
        ml_bandit_policy_evaluation(rel, fail, store=store)
    again = _build(ledger, promotions, store)
    reason = again[EVALUATION]["registry_reason"].iloc[0]
    assert reason.startswith("ml_bandit_policy_evaluation champion version 1 model file unusable: ")
    assert again[EVALUATION]["model_version"].eq(2).all() and store.get_alias(EVALUATION, CHAMPION).version == 2
    pd.testing.assert_frame_equal(first[EVALUATION].drop(columns=[*REGISTRY_COLUMNS]),
                                  again[EVALUATION].drop(columns=[*REGISTRY_COLUMNS]))
    assert set(again[PUBLISHED]["registry_action"]) == {"reuse"}  # the same evaluation: nothing to refit


def test_other_ledger_columns_retrain_or_stop_naming_them(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    changed = ledger.assign(propensity=ledger["propensity"].astype(str))
    rel = {"fct_decision_ledger": changed, "stg_shop__promotions": promotions}
    fail = BanditHoldoutProbabilitiesConfig(registry_on_mismatch="fail", **FAST)
    with pytest.raises(ModelMismatchError, match="propensity: trained as numeric, now categorical"):
        ml_bandit_holdout_probabilities(rel, fail, store=store)
    assert [v.version for v in store.versions(HOLDOUT)] == [1]


def test_a_champion_table_without_todays_columns_is_retrained(marts, trained):
    ledger, promotions = marts
    store, _ = trained
    version = store.get_alias(HOLDOUT)
    table = pd.read_parquet(version.path / "table.parquet").drop(columns=["is_available"])
    table.to_parquet(version.path / "table.parquet", index=False)
    again = _build(ledger, promotions, store)
    assert set(again[HOLDOUT]["registry_reason"]) == {
        "ml_bandit_holdout_probabilities champion version 1 model file unusable: ml_bandit_holdout_probabilities "
        "version 1: its table lacks the column(s) ['is_available'] (recorded by another code version)"}
    assert again[HOLDOUT]["model_version"].eq(2).all() and set(again[EVALUATION]["registry_action"]) == {"reuse"}
