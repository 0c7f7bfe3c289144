"""retail_lift.evaluation.uplift_limits: the feature ceiling and the type-revealed refit on known worlds.

When a feature decides who the arm works on, the ceiling is near 1; when a coin no feature shows
decides it, the ceiling is near 0 but the learner finds it once the coin is revealed as a feature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from synthetic_uplift import one_arm_world

from retail_lift.evaluation.uplift_limits import LIMIT_COLUMNS, feature_ceiling, type_revealed, uplift_limits

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def observable():
    return one_arm_world(hidden=False)


@pytest.fixture(scope="module")
def hidden():
    return one_arm_world(hidden=True)


def test_an_observable_driver_has_a_ceiling_near_one(observable):
    training, truth, _ = observable
    row = feature_ceiling(training, truth).iloc[0]
    assert (row["experiment_id"], row["promotion_id"], row["n_exposures"]) == ("exp", "arm", 4000)
    assert row["ceiling_boosting_gain_ratio"] > 0.97 and row["ceiling_linear_gain_ratio"] > 0.97
    assert row["ceiling_boosting_r2"] > 0.95 and row["ceiling_boosting_qini_ratio"] > 0.8


def test_a_hidden_driver_has_a_ceiling_near_zero_until_revealed(hidden):
    training, truth, customers = hidden
    ceiling = feature_ceiling(training, truth).iloc[0]
    assert abs(ceiling["ceiling_boosting_gain_ratio"]) < 0.15 and abs(ceiling["ceiling_linear_gain_ratio"]) < 0.15
    assert ceiling["ceiling_boosting_r2"] < 0.05
    revealed = type_revealed(training, customers, truth).iloc[0]
    assert (revealed["experiment_id"], revealed["promotion_id"]) == ("exp", "arm")
    assert revealed["type_revealed_gain_ratio"] > 0.9 and revealed["type_revealed_qini_ratio"] > 0.8


def test_uplift_limits_reports_the_better_ceiling_and_the_revealed_refit(hidden, observable):
    training, truth, customers = observable
    # logistic outcome models: quicker than the default "auto" (ml_eval_uplift_vs_truth's), the same limits here
    limits = uplift_limits(training, customers, truth, base_learner="logistic")
    assert list(limits.columns) == LIMIT_COLUMNS and len(limits) == 1
    row = limits.iloc[0]
    ceiling = feature_ceiling(training, truth).iloc[0]
    best = max(("boosting", "linear"), key=lambda k: ceiling[f"ceiling_{k}_gain_ratio"])
    assert row["feature_ceiling_kind"] == best
    assert row["feature_ceiling_gain_ratio"] == pytest.approx(ceiling[f"ceiling_{best}_gain_ratio"])
    assert row["feature_ceiling_r2"] == pytest.approx(ceiling[f"ceiling_{best}_r2"])
    assert row["type_revealed_gain_ratio"] > 0.9


def test_max_rows_subsamples_each_arm(observable):
    training, truth, _ = observable
    row = feature_ceiling(training, truth, kinds=("linear",), max_rows=1000).iloc[0]
    assert row["n_exposures"] == 1000 and 350 < row["n_treated"] < 650
    assert "ceiling_boosting_gain_ratio" not in row and row["ceiling_linear_gain_ratio"] > 0.9


def test_arms_without_truth_or_customers_without_a_type_are_named(observable):
    training, truth, customers = observable
    with pytest.raises(ValueError, match="no true_uplift for 10 exposures of exp / arm"):
        feature_ceiling(training, truth.iloc[10:])
    with pytest.raises(ValueError, match="no uplift_type for 1 customers.*e00000"):
        type_revealed(training, customers.iloc[1:], truth)
    with pytest.raises(ValueError, match="kind must be one of"):
        feature_ceiling(training, truth, kinds=("forest",))
    with pytest.raises(ValueError, match="training is missing.*is_control"):
        feature_ceiling(training.drop(columns=["is_control"]), truth)


def test_an_experiment_with_a_sample_ratio_mismatch_is_not_measured(observable):
    training, truth, customers = observable
    srm = pd.DataFrame({"experiment_id": ["exp", "exp"], "variant": ["control", "arm"],
                        "observed_users": [3000, 1000], "planned_share": [0.5, 0.5]})
    limits = uplift_limits(training, customers, truth, srm=srm, base_learner="logistic")
    assert list(limits.columns) == LIMIT_COLUMNS and limits.empty


def test_the_evaluation_model_refits_with_the_settings_of_ml_uplift_run():
    def config(path, name):
        models = yaml.safe_load((PROJECT / path).read_text())["models"]
        return next(m for m in models if m["name"] == name)["config"]

    run = config("python_models/ml/uplift/_uplift__models.yml", "ml_uplift_run")
    evaluation = config("python_models/evaluation/uplift/_uplift__models.yml", "ml_eval_uplift_vs_truth")
    assert evaluation["measure_limits"] is True
    for key in ("learner", "base_learner", "random_state"):
        assert evaluation[key] == run[key], key
    assert np.isfinite(evaluation["limits_max_rows"])


def test_the_limits_do_not_depend_on_the_row_order_the_warehouse_returns(hidden):
    training, truth, customers = hidden
    ordered = uplift_limits(training, customers, truth, max_rows=3000, base_learner="logistic")
    shuffled = uplift_limits(training.sample(frac=1.0, random_state=1), customers.sample(frac=1.0, random_state=2),
                             truth.sample(frac=1.0, random_state=3), max_rows=3000, base_learner="logistic")
    pd.testing.assert_frame_equal(ordered, shuffled, check_exact=True)
