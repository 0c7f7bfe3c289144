"""retail_lift.evaluation: the typed configs of the six dbt models of python_models/evaluation/.

tests/python/test_tables.py checks, for these models too, that the dbt model reads exactly the config's keys
and that its yml states exactly the config's defaults. Here: the config is the only place of the defaults (the
evaluation functions' keyword defaults are the config's, and ``kwargs`` names real keywords), the uplift
evaluation refits with the settings of ml_uplift_run, and bad values are errors naming the model and the key.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from retail_lift.evaluation import (
    MODEL_CONFIGS,
    CampaignOracleComparisonConfig,
    EvalClvVsTruthConfig,
    EvalPromotionPlanVsTruthConfig,
    EvalTargetingVsTruthConfig,
    EvalUpliftVsTruthConfig,
    PredictOracleComparisonConfig,
    campaign_oracle_comparison,
    clv_evaluation,
    defaults,
    evaluate_plan_against_truth,
    evaluate_uplift_against_truth,
    from_settings,
    predict_oracle_comparison,
    uplift_limits,
)
from retail_lift.tables.uplift import UpliftRunConfig

#: each config's keyword sets and the function they are the keywords of
KWARGS = [
    (EvalClvVsTruthConfig, "kwargs", clv_evaluation),
    (PredictOracleComparisonConfig, "kwargs", predict_oracle_comparison),
    (CampaignOracleComparisonConfig, "kwargs", campaign_oracle_comparison),
    (EvalUpliftVsTruthConfig, "evaluation_kwargs", evaluate_uplift_against_truth),
    (EvalUpliftVsTruthConfig, "limits_kwargs", uplift_limits),
    (EvalPromotionPlanVsTruthConfig, "evaluation_kwargs", evaluate_plan_against_truth),
]


def test_the_six_evaluation_models_have_a_config():
    assert sorted(MODEL_CONFIGS) == ["ml_campaign_oracle_comparison", "ml_eval_clv_vs_truth",
                                     "ml_eval_promotion_plan_vs_truth", "ml_eval_targeting_vs_truth",
                                     "ml_eval_uplift_vs_truth", "ml_predict_oracle_comparison"]
    for config_class in MODEL_CONFIGS.values():
        assert dataclasses.is_dataclass(config_class) and config_class.__dataclass_params__.frozen


@pytest.mark.parametrize(("config_class", "method", "function"), KWARGS,
                         ids=[f"{c.__name__}.{m}" for c, m, _ in KWARGS])
def test_the_function_defaults_are_the_configs(config_class, method, function):
    """Calling the evaluation function without the settings is calling it with the model's defaults."""
    kwargs = getattr(config_class(), method)()
    params = inspect.signature(function).parameters
    assert set(kwargs) <= set(params), f"{function.__name__} has no keyword {sorted(set(kwargs) - set(params))}"
    assert {k: params[k].default for k in kwargs} == kwargs
    assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in kwargs)


def test_every_uplift_setting_goes_to_a_function_or_decides_the_limits():
    config = EvalUpliftVsTruthConfig()
    used = {"target_ratio", "n_bootstrap", "random_state", "learner", "base_learner", "limits_max_rows",
            "measure_limits"}
    assert {f.name for f in dataclasses.fields(config)} == used
    assert config.limits_kwargs()["max_rows"] == config.limits_max_rows == 40000


def test_the_kwargs_carry_the_settings_given():
    config = EvalClvVsTruthConfig(holdout_days=90, penalizer=0.1, holdout_target=0.1, spend_target=0.2)
    assert config.kwargs() == {"holdout_days": 90, "penalizer": 0.1, "holdout_target": 0.1, "spend_target": 0.2}
    assert PredictOracleComparisonConfig(label_window_days=14, target_auc_ratio=0.8).kwargs() == {
        "window_days": 14.0, "target_ratio": 0.8}
    assert CampaignOracleComparisonConfig(attribution_days=7).kwargs() == {"attribution_days": 7.0}
    uplift = EvalUpliftVsTruthConfig(target_ratio=0.5, n_bootstrap=0, random_state=3, learner="t",
                                     base_learner="logistic", limits_max_rows=1000)
    assert uplift.evaluation_kwargs() == {"target_ratio": 0.5, "n_bootstrap": 0, "random_state": 3}
    assert uplift.limits_kwargs() == {"learner": "t", "base_learner": "logistic", "random_state": 3,
                                      "max_rows": 1000}


def test_the_uplift_evaluation_refits_with_the_settings_of_ml_uplift_run():
    run, evaluation = UpliftRunConfig(), EvalUpliftVsTruthConfig()
    for key in ("learner", "base_learner", "random_state"):
        assert getattr(evaluation, key) == getattr(run, key), key


def test_the_targeting_evaluation_has_no_settings():
    assert defaults("ml_eval_targeting_vs_truth") == {}
    assert from_settings(EvalTargetingVsTruthConfig, "ml_eval_targeting_vs_truth") == EvalTargetingVsTruthConfig()
    with pytest.raises(ValueError, match=r"ml_eval_targeting_vs_truth: unknown config key\(s\) \['margin_rate'\]"):
        from_settings(EvalTargetingVsTruthConfig, "ml_eval_targeting_vs_truth", margin_rate=0.3)


def test_unset_keys_take_the_defaults_and_strings_of_vars_parse():
    assert from_settings(EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", target_ratio=None, learner=None,
                         measure_limits=None) == EvalUpliftVsTruthConfig()
    # a var passed on the command line (--vars) arrives as a string
    config = from_settings(PredictOracleComparisonConfig, "ml_predict_oracle_comparison", label_window_days="45")
    assert config.label_window_days == 45.0 and config.target_auc_ratio == 0.9
    assert CampaignOracleComparisonConfig(attribution_days="7").attribution_days == 7.0
    # an integer setting takes a float without fraction, as a yml may write it
    assert EvalClvVsTruthConfig(holdout_days=30.0).holdout_days == 30
    with pytest.raises(ValueError, match=r"ml_eval_clv_vs_truth: unknown config key\(s\) \['holdout_dys'\]"):
        from_settings(EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", holdout_dys=30)


@pytest.mark.parametrize(("config_class", "model", "key", "value"), [
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "holdout_days", 0),
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "holdout_days", 30.5),
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "holdout_days", "61"),
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "penalizer", -0.1),
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "holdout_target", True),
    (EvalClvVsTruthConfig, "ml_eval_clv_vs_truth", "spend_target", float("nan")),
    (PredictOracleComparisonConfig, "ml_predict_oracle_comparison", "label_window_days", 0),
    (PredictOracleComparisonConfig, "ml_predict_oracle_comparison", "label_window_days", "a month"),
    (PredictOracleComparisonConfig, "ml_predict_oracle_comparison", "label_window_days", "None"),
    (PredictOracleComparisonConfig, "ml_predict_oracle_comparison", "target_auc_ratio", "0.9"),
    (CampaignOracleComparisonConfig, "ml_campaign_oracle_comparison", "attribution_days", -14),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "target_ratio", -0.7),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "n_bootstrap", -1),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "random_state", 1.5),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "measure_limits", "yes"),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "measure_limits", 1),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "learner", "forest"),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "base_learner", "t"),
    (EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth", "limits_max_rows", 0),
])
def test_bad_values_name_the_model_and_the_key(config_class, model, key, value):
    with pytest.raises(ValueError, match=f"^{model}: {key} must be"):
        from_settings(config_class, model, **{key: value})
