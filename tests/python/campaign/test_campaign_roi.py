"""Broadcast versus targeted, by hand (the five customers of test_campaign_targeting).

contact cost 1, margin 0.3; target list c1, c2.

Expected, broadcast (all five): conversions 0.5+0.2+0.05+0.3+0.01 = 1.06, revenue 45+20+5+12+1 = 83,
discount cost 5+3 = 8, cost 5 + 8 = 13, margin 15+6+1.5+4.5+0.3 = 27.3, profit 14.3, ROI 1.1.
Expected, targeted (c1, c2): conversions 0.7, revenue 65, discount cost 5, cost 7, profit 14, ROI 2.

Realised with outcomes c1 = 1, c4 = 1, others 0: broadcast conversions 2, revenue 90 + 40 = 130,
discount cost 10 + 10 = 20, cost 25, margin 30 + 15 = 45, profit 20, ROI 0.8; targeted conversions 1,
revenue 90, cost 1 + 1 + 10 = 12, profit 30 - 12 = 18, ROI 1.5.
"""

import pandas as pd
import pytest

from retail_lift.campaign import compare_broadcast_targeted

SCORES = pd.DataFrame({
    "customer_id": ["c1", "c2", "c3", "c4", "c5"],
    "purchase_probability": [0.5, 0.2, 0.05, 0.3, 0.01],
    "avg_order_value": [100.0, 100, 100, 50, 100],
    "discount_rate": [0.1, 0.0, 0.0, 0.2, 0.0],
    "bought": [1, 0, 0, 1, 0],
})
TARGETS = pd.DataFrame({"customer_id": ["c1", "c2"]})
KW = dict(margin_rate=0.3, discount="discount_rate")


def test_expected_by_hand():
    out = compare_broadcast_targeted(SCORES, TARGETS, 1.0, **KW).set_index("strategy")
    assert out.loc["broadcast", "contacts"] == 5 and out.loc["targeted", "contacts"] == 2
    cols = ["expected_conversions", "expected_revenue", "expected_discount_cost", "expected_cost",
            "expected_profit", "expected_roi"]
    assert out.loc["broadcast", cols].tolist() == pytest.approx([1.06, 83, 8, 13, 14.3, 1.1])
    assert out.loc["targeted", cols].tolist() == pytest.approx([0.7, 65, 5, 7, 14, 2])
    assert out.loc["targeted", "expected_conversion_rate"] == pytest.approx(0.35)
    assert "realised_roi" not in out.columns


def test_realised_by_hand():
    out = compare_broadcast_targeted(SCORES, TARGETS, 1.0, outcome_column="bought", **KW).set_index("strategy")
    cols = ["realised_conversions", "realised_revenue", "realised_discount_cost", "realised_cost",
            "realised_profit", "realised_roi"]
    assert out.loc["broadcast", cols].tolist() == pytest.approx([2, 130, 20, 25, 20, 0.8])
    assert out.loc["targeted", cols].tolist() == pytest.approx([1, 90, 10, 12, 18, 1.5])


def test_flat_broadcast_discount():
    out = compare_broadcast_targeted(SCORES, TARGETS, 1.0, broadcast_discount=0.15, **KW).set_index("strategy")
    # 15 % to everyone: full-price expected spend p * v sums to 50+20+5+15+1 = 91
    assert out.loc["broadcast", ["expected_discount_cost", "expected_revenue", "expected_cost",
                                 "expected_profit"]].tolist() == pytest.approx([13.65, 77.35, 18.65, 8.65])
    # the targeted row keeps the personal discounts
    assert out.loc["targeted", "expected_profit"] == pytest.approx(14)


def test_validation():
    with pytest.raises(ValueError, match=r"target_list\['customer_id'\] has 1 id\(s\) not in scores; first: 'zz'"):
        compare_broadcast_targeted(SCORES, pd.DataFrame({"customer_id": ["c1", "zz"]}), 1.0, **KW)
    with pytest.raises(ValueError, match=r"scores\['bought'\] must contain only 0 and 1"):
        compare_broadcast_targeted(SCORES.assign(bought=2), TARGETS, 1.0, outcome_column="bought", **KW)
    with pytest.raises(ValueError, match="contact_cost must be a non-negative"):
        compare_broadcast_targeted(SCORES, TARGETS, -1.0, **KW)
