"""bench/uplift_ceiling.py: a ranking learned from the true uplift reaches the oracle when the features
decide the uplift, and not when the uplift is a random draw that no feature shows; the pipeline's learner
finds a hidden driver once it is revealed as a feature."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retail_lift.uplift.pipeline import CATEGORICAL_FEATURES, NUMERIC_FEATURES

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "uplift_ceiling.py"


@pytest.fixture(scope="module")
def ceiling():
    spec = importlib.util.spec_from_file_location("uplift_ceiling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _world(hidden: bool, n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = {c: rng.choice(["a", "b"], n) for c in CATEGORICAL_FEATURES}
    frame.update({c: rng.poisson(2, n).astype(float) for c in NUMERIC_FEATURES})
    frame["follows_page"] = rng.random(n) < 0.4
    frame["heard_of_shop"] = rng.random(n) < 0.5
    # the uplift: decided by a feature, or by a coin no feature shows
    driver = rng.random(n) < 0.4 if hidden else frame["follows_page"]
    tau = np.where(driver, 0.25, 0.0)
    treated = rng.random(n) < 0.5
    y = rng.random(n) < 0.05 + treated * tau
    ids = np.array([f"e{i:05d}" for i in range(n)])
    training = pd.DataFrame({"exposure_id": ids, "experiment_id": "exp", "customer_id": ids,
                             "variant": np.where(treated, "arm", "control"), "is_control": ~treated,
                             "is_converted": y, **frame})
    truth = pd.DataFrame({"exposure_id": ids, "promotion_id": "arm", "true_uplift": tau})
    arms = pd.DataFrame({"experiment_id": ["exp"], "promotion_id": ["arm"], "qini_oracle_ratio": [0.5]})
    return training, truth, arms


def _customers(training: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The uplift type of each customer of ``_world``: persuadable where the arm works."""
    return pd.DataFrame({"customer_id": training["customer_id"],
                         "uplift_type": np.where(truth["true_uplift"] > 0, "persuadable", "lost_cause")})


def test_observable_uplift_has_a_ceiling_near_one(ceiling):
    table = ceiling.ceiling_table(*_world(hidden=False))
    row = table.iloc[0]
    assert row["model_qini_ratio"] == 0.5 and row["n_treated"] > 1800
    assert row["ceiling_boosting_gain_ratio"] > 0.97 and row["ceiling_linear_gain_ratio"] > 0.97
    assert row["ceiling_boosting_r2"] > 0.95


def test_hidden_uplift_has_a_ceiling_near_zero(ceiling):
    row = ceiling.ceiling_table(*_world(hidden=True)).iloc[0]
    assert abs(row["ceiling_boosting_gain_ratio"]) < 0.15 and abs(row["ceiling_linear_gain_ratio"]) < 0.15
    assert row["ceiling_boosting_r2"] < 0.05


def test_missing_truth_is_named(ceiling):
    training, truth, arms = _world(hidden=False)
    with pytest.raises(ValueError, match="exp / arm"):
        ceiling.ceiling_table(training, truth.iloc[10:], arms)


def test_a_revealed_hidden_type_is_found_by_the_pipeline_learner(ceiling):
    training, truth, arms = _world(hidden=True)
    ceiling_row = ceiling.ceiling_table(training, truth, arms).iloc[0]
    row = ceiling.type_revealed_table(training, _customers(training, truth), truth).iloc[0]
    assert (row["experiment_id"], row["promotion_id"]) == ("exp", "arm")
    # no feature shows the coin (ceiling near 0), but the learner ranks like the truth once it is revealed
    assert ceiling_row["ceiling_boosting_gain_ratio"] < 0.15 < 0.9 < row["type_revealed_gain_ratio"]
    assert row["type_revealed_qini_ratio"] > 0.8


def test_customers_without_a_type_are_named(ceiling):
    training, truth, _ = _world(hidden=True)
    customers = _customers(training, truth).iloc[1:]
    with pytest.raises(ValueError, match="no uplift_type for 1 customers.*e00000"):
        ceiling.type_revealed_table(training, customers, truth)
