"""retail_lift.tables.uplift: ``ml_uplift_run``'s config holds its defaults (the family's defaults are the same),
its settings are converted as the dbt model converted them, and the table is the family's result stacked.

(The yml and the dbt model against the config: tests/python/test_tables.py, for every model of MODEL_CONFIGS.)
"""

from __future__ import annotations

import dataclasses

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from synthetic_uplift import one_arm_world

from retail_lift.tables import defaults, from_settings
from retail_lift.tables.uplift import (
    REGISTRY_COLUMNS,
    REGISTRY_SETTINGS,
    UpliftRunConfig,
    arrow_table,
    fit_score_uplift_defaults,
    long_table,
    ml_uplift_run,
)
from retail_lift.uplift.economics import promotions_by_id
from retail_lift.uplift.features import FEATURES
from retail_lift.uplift.pipeline import fit_score_uplift


def test_the_config_defaults_are_the_family_defaults():
    """One set of defaults: a direct call of fit_score_uplift (bench, the evaluation's limits) and the model agree."""
    config = UpliftRunConfig()
    assert fit_score_uplift_defaults() == {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                                           if f.name not in REGISTRY_SETTINGS}
    assert set(config.fit_kwargs()) == set(fit_score_uplift_defaults())
    assert defaults("ml_uplift_run")["k_fractions"] == [0.1, 0.2, 0.3]
    assert config.learner == "auto" and config.base_learner == "auto" and config.n_folds == 5


def test_settings_are_converted_as_the_dbt_model_converted_them():
    config = from_settings(UpliftRunConfig, "ml_uplift_run", n_folds=0, k_fractions=[0.2, 0.5], holdout=1,
                           inner_folds="4", n_placebo=None)
    assert config.n_folds is None  # 0: the single holdout split
    assert config.k_fractions == (0.2, 0.5) and config.holdout == 1.0 and isinstance(config.holdout, float)
    assert config.inner_folds == 4 and config.n_placebo == 100
    assert from_settings(UpliftRunConfig, "ml_uplift_run", n_folds=3.0).n_folds == 3
    with pytest.raises(ValueError, match=r"ml_uplift_run: unknown config key\(s\) \['n_fold'\]"):
        from_settings(UpliftRunConfig, "ml_uplift_run", n_fold=3)


@pytest.mark.parametrize("settings", [{"n_placebo": "many"}, {"holdout": True}, {"k_fractions": "0.1"},
                                      {"k_fractions": [0.1, "x"]}, {"random_state": None}])
def test_bad_settings_name_the_model_and_the_key(settings):
    key = next(iter(settings))
    with pytest.raises(ValueError, match=f"ml_uplift_run: {key} must be"):
        UpliftRunConfig(**settings)


@pytest.fixture(scope="module")
def marts():
    training, _, _ = one_arm_world(hidden=False, n=900, seed=3)
    scoring = training[["customer_id", *FEATURES]].copy()
    srm = pd.DataFrame({"experiment_id": "exp", "variant": ["control", "arm"], "is_control": [True, False],
                        "observed_users": [int((training["variant"] == v).sum()) for v in ("control", "arm")],
                        "planned_share": 0.5})
    promotions = pd.DataFrame({"promotion_id": ["arm", "other"], "discount_rate": [0.1, None],
                               "contact_cost": [0.02, 0.5], "launched_at": pd.NaT})
    return {"fct_uplift_training_exposures": training, "fct_uplift_scoring_customers": scoring,
            "fct_experiment_srm": srm, "stg_shop__promotions": promotions}


FAST = UpliftRunConfig(learner="t", base_learner="logistic", n_folds=3, n_placebo=3, n_threads=1)


def test_the_table_is_the_family_result_stacked(marts):
    with_registry = ml_uplift_run(marts, FAST)
    table = with_registry.drop_columns(list(REGISTRY_COLUMNS))
    direct = fit_score_uplift(marts["fct_uplift_training_exposures"], marts["fct_uplift_scoring_customers"],
                              srm=marts["fct_experiment_srm"],
                              promotions=promotions_by_id(marts["stg_shop__promotions"]), **FAST.fit_kwargs())
    assert isinstance(table, pa.Table) and table.equals(arrow_table(direct))
    # without a store: trained in this call, no version
    assert set(with_registry.column("registry_action").to_pylist()) == {"train"}
    assert set(with_registry.column("registry_reason").to_pylist()) == {"no model store: trained in this build"}
    assert with_registry.column("model_version").null_count == with_registry.num_rows
    assert table.num_rows == len(long_table(direct)) and table.column_names == list(long_table(direct).columns)
    counts = pd.Series(table.column("table_name").to_pylist()).value_counts().to_dict()
    assert counts["scores"] == 900 and counts["segments"] == 4
    roi = direct.incremental_roi
    assert set(roi["discount_rate"]) == {0.1} and set(roi["contact_cost"]) == {0.02}


def test_the_table_reads_duckdb_relations(marts):
    con = duckdb.connect()
    relations = {}
    for name, frame in marts.items():
        con.register(f"{name}_frame", frame)
        relations[name] = con.table(f"{name}_frame")
    assert ml_uplift_run(relations, FAST).equals(ml_uplift_run(marts, FAST))


def test_the_store_must_be_a_model_registry(marts):
    with pytest.raises(TypeError, match="ml_uplift_run: store must be a retail_lift.registry.ModelRegistry"):
        ml_uplift_run(marts, FAST, store=object())
