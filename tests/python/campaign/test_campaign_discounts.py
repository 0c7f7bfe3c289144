"""Price sensitivity and personalised discounts: hand-computed scores, monotone level mapping, validation."""

import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign import estimate_price_sensitivity, personalised_discount

FEATURES = pd.DataFrame(
    {"discount_order_share": [0.0, 0.5, 1.0, np.nan], "avg_discount_rate": [0.0, 0.10, 0.30, 0.05],
     "order_count": [1, 4, 9, 0]},
    index=["c1", "c2", "c3", "c4"],
)


def test_price_sensitivity_by_hand():
    s = estimate_price_sensitivity(FEATURES)
    # rate component min(rate / 0.20, 1) = 0, 0.5, 1, 0.25; c4's missing share -> mean of the others 0.5
    # 0.5 * share + 0.5 * rate component
    assert s.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.375])
    assert s.name == "price_sensitivity" and list(s.index) == ["c1", "c2", "c3", "c4"]
    # weights and scale are parameters; one component may be left out
    assert estimate_price_sensitivity(FEATURES, weights=(1, 3)).tolist() == pytest.approx(
        [0.0, 0.5, 1.0, 0.25 * 0.5 + 0.75 * 0.25])
    assert estimate_price_sensitivity(FEATURES, share_column=None, rate_scale=0.4).tolist() == pytest.approx(
        [0.0, 0.25, 0.75, 0.125])


def test_price_sensitivity_shrinks_by_order_count():
    s = estimate_price_sensitivity(FEATURES, orders_column="order_count", prior_orders=3)
    m = (0 + 0.5 + 1 + 0.375) / 4  # population mean of the raw score, 0.46875
    expected = [(1 * 0 + 3 * m) / 4, (4 * 0.5 + 3 * m) / 7, (9 * 1 + 3 * m) / 12, m]
    assert s.tolist() == pytest.approx(expected)


def test_discount_levels_by_hand():
    s = [0.0, 0.19, 0.2, 0.39, 0.4, 0.79, 0.8, 1.0]
    # default cut points 0.2, 0.4, 0.6, 0.8 over levels 0, 5, 10, 15, 20 %
    np.testing.assert_allclose(personalised_discount(s), [0, 0, 0.05, 0.05, 0.10, 0.15, 0.20, 0.20])
    np.testing.assert_allclose(personalised_discount(s, levels=(0, 0.1), thresholds=[0.39]),
                               [0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.1])
    out = personalised_discount(pd.Series([0.9, 0.1], index=["a", "b"]))
    assert out.to_dict() == {"a": 0.20, "b": 0.0} and out.name == "discount_rate"


def test_discount_mapping_is_monotone_and_quantile_bins_balance():
    s = np.random.default_rng(0).beta(2, 5, size=1000)
    for thresholds in (None, "quantile"):
        d = personalised_discount(np.sort(s), thresholds=thresholds)
        assert (np.diff(d) >= 0).all()
    d = personalised_discount(s, thresholds="quantile")
    shares = pd.Series(d).value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(shares.to_numpy(), [0.2] * 5, atol=0.002)
    # the beta(2, 5) scores sit low, so equal-width bins hand out few large discounts
    assert (personalised_discount(s) == 0.20).mean() < 0.01


def test_validation():
    with pytest.raises(ValueError, match=r"features is missing column\(s\) 'avg_discount_rate'"):
        estimate_price_sensitivity(FEATURES.drop(columns="avg_discount_rate"))
    with pytest.raises(ValueError, match=r"features\['discount_order_share'\] must lie in \[0.0, 1.0\]"):
        estimate_price_sensitivity(FEATURES.assign(discount_order_share=[0, 2, 0, 0]))
    with pytest.raises(ValueError, match="price_sensitivity must lie in"):
        personalised_discount([0.5, 1.5])
    with pytest.raises(ValueError, match="levels must be strictly increasing"):
        personalised_discount([0.5], levels=(0, 0.1, 0.1))
    with pytest.raises(ValueError, match="thresholds must hold len\\(levels\\) - 1 = 4 cut points"):
        personalised_discount([0.5], thresholds=[0.5])
    with pytest.raises(ValueError, match="levels must lie in"):
        personalised_discount([0.5], levels=(0, 1.0))


def test_share_column_name_of_the_customer_features_mart_is_recognised():
    mart = FEATURES.rename(columns={"discount_order_share": "discounted_order_share"})
    assert estimate_price_sensitivity(mart).tolist() == pytest.approx([0.0, 0.5, 1.0, 0.375])
    with pytest.raises(ValueError, match="features has no discounted-order share column"):
        estimate_price_sensitivity(FEATURES.drop(columns="discount_order_share"))
