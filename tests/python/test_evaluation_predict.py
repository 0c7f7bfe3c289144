"""The oracle arithmetic of retail_lift.evaluation.predict (window purchase probabilities, carried-over campaign
response) and the fixed output schemas of retail_lift.frames."""

import numpy as np
import pandas as pd
import pytest

from retail_lift import frames
from retail_lift.evaluation import predict as EP

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

# ----------------------------------------------------------------------------------------------
# synthetic marts
# ----------------------------------------------------------------------------------------------


# `features` (a small synthetic fct_customer_features) is a fixture of tests/python/conftest.py


# ----------------------------------------------------------------------------------------------
# evaluation against the simulated world
# ----------------------------------------------------------------------------------------------


def test_window_probability_counts_only_active_days():
    p = EP.window_purchase_probability(
        [0.1, 0.1, 0.1, 0.0],
        pd.to_datetime(["2026-01-01", "2026-03-11", "2026-01-01", "2026-01-01"]),
        pd.to_datetime(["2027-01-01", "2027-01-01", "2026-03-06", "2027-01-01"]),
        pd.to_datetime(["2026-03-01"] * 4), 30)
    assert p == pytest.approx([1 - np.exp(-3.0), 1 - np.exp(-2.0), 1 - np.exp(-0.5), 0.0])
    # churned before the window: no chance
    assert EP.window_purchase_probability([1.0], ["2026-01-01"], ["2026-02-01"], ["2026-03-01"], 30)[0] == 0.0


def _rates(ids, rate):
    return pd.DataFrame({"customer_id": ids, "online_order_rate": rate, "store_order_rate": 0.0,
                         "active_from": pd.Timestamp("2025-01-01"), "active_until": pd.Timestamp("2030-01-01"),
                         "mean_order_value": 50.0})


def test_oracle_comparison_against_the_true_probabilities():
    rng = np.random.default_rng(1)
    n = 3000
    ids = [f"c{i}" for i in range(n)]
    rate = rng.gamma(1.0, 0.01, n)
    true_p = 1 - np.exp(-rate * 30)
    y = (rng.random(n) < true_p).astype(int)
    noisy = np.clip(true_p + rng.normal(0, 0.1, n), 0.001, 0.999)
    fit = pd.DataFrame({"record_type": "holdout", "model": "xgboost", "is_chosen_model": False,
                        "customer_id": ids, "probability": noisy, "label": y})
    snapshots = pd.DataFrame({"snapshot_role": ["train", "score"],
                              "feature_cutoff_at": pd.to_datetime(["2026-03-01", "2026-04-01"])})
    out = EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(ids, rate), snapshots).iloc[0]
    assert out["n"] == n and 0.5 < out["model_roc_auc"] < out["oracle_roc_auc"]
    assert out["auc_ratio"] == pytest.approx(out["model_roc_auc"] / out["oracle_roc_auc"])
    assert out["oracle_log_loss"] < out["model_log_loss"]
    # customers the truth does not know are left out; without any, no row
    assert EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(["zz"], 0.1), snapshots).empty


def test_campaign_response_is_carried_over_to_the_send_time():
    ids = pd.Series(["c1", "c2"])
    arms = pd.DataFrame({"customer_id": ["c1", "c1", "c2", "c2"],
                         "promotion_id": ["control", "email_10pct", "control", "email_10pct"],
                         "p_convert": [0.2, 0.3, 0.2, 0.1]})
    rate = -np.log(0.9) / 14  # p0 = 0.1 over a 14-day window
    out = EP._true_campaign_response(ids, _rates(ids, rate), arms, "email_10pct", pd.Timestamp("2026-04-01"), 14)
    assert out["p_control"].tolist() == pytest.approx([0.1, 0.1])
    # c1: the offer adds e = 1 - 0.7 / 0.8 = 0.125 -> 1 - 0.9 * 0.875; c2 (suppressed): 0.1 * 0.1 / 0.2
    assert out["p_offer"].tolist() == pytest.approx([1 - 0.9 * 0.875, 0.05])


def test_typed_gives_empty_tables_their_columns():
    out = frames.typed_frame(None, {"a": "str", "b": "float", "c": "int", "d": "bool", "e": "ts"})
    assert list(out.columns) == list("abcde") and len(out) == 0
    assert [str(t) for t in out.dtypes] == ["str", "float64", "Int64", "boolean", "datetime64[us]"]
