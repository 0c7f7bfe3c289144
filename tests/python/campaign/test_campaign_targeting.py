"""Target lists: hand-computed economics, ranking, selection by budget / top-K / exclusion, CSV export.

contact cost 1, margin rate 0.3 (profit = p * v * (0.3 - d) - 1):

    id   p     v    d     revenue p v (1-d)  discount cost  cost  margin p v 0.3  profit  ROI
    c1  0.50  100  0.10        45                 5           6        15          9     1.5
    c2  0.20  100  0.00        20                 0           1         6          5     5.0
    c3  0.05  100  0.00         5                 0           1         1.5        0.5   0.5
    c4  0.30   50  0.20        12                 3           4         4.5        0.5   0.125
    c5  0.01  100  0.00         1                 0           1         0.3       -0.7  -0.7

By profit: c1, c2, then c4 and c3 tie at 0.5 (c4 first: higher probability), c5 last.
"""

import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign import TARGET_LIST_COLUMNS, build_target_list, expected_economics, export_target_list

SCORES = pd.DataFrame({
    "customer_id": ["c3", "c1", "c5", "c2", "c4"],
    "purchase_probability": [0.05, 0.5, 0.01, 0.2, 0.3],
    "avg_order_value": [100.0, 100, 100, 100, 50],
    "discount_rate": [0.0, 0.1, 0.0, 0.0, 0.2],
    "segment_name": ["core", "loyal", "lapsed", "core", "young"],
})
KW = dict(contact_cost=1.0, margin_rate=0.3, discount="discount_rate")


def test_economics_by_hand():
    e = expected_economics([0.5, 0.3], [100, 50], [0.1, 0.2], contact_cost=1, margin_rate=0.3)
    expected = pd.DataFrame({
        "expected_conversions": [0.5, 0.3], "expected_revenue": [45, 12.0], "expected_discount_cost": [5, 3.0],
        "expected_cost": [6, 4.0], "expected_margin": [15, 4.5], "expected_profit": [9, 0.5], "roi": [1.5, 0.125]})
    pd.testing.assert_frame_equal(e, expected)
    # incremental: c1 would buy with probability 0.3 anyway -> 0.2 incremental buyers,
    # margin 0.2 * 100 * 0.3 = 6, discount still paid to all 0.5 buyers (5), cost 6 -> profit 0,
    # revenue 45 - 0.3 * 100 = 15
    e = expected_economics(0.5, 100, 0.1, contact_cost=1, margin_rate=0.3, baseline_probability=0.3)
    assert e.iloc[0][["expected_conversions", "expected_revenue", "expected_profit", "roi"]].tolist() == \
        pytest.approx([0.2, 15, 0, 0])
    assert np.isnan(expected_economics(0.5, 100, 0.0, contact_cost=0, margin_rate=0.3)["roi"].iloc[0])


def test_default_selects_every_profitable_customer_in_rank_order():
    out = build_target_list(SCORES, **KW)
    assert out["customer_id"].tolist() == ["c1", "c2", "c4", "c3"]
    assert out["rank"].tolist() == [1, 2, 3, 4]
    assert out["expected_revenue"].tolist() == pytest.approx([45, 20, 12, 5])
    assert out["expected_cost"].tolist() == pytest.approx([6, 1, 4, 1])
    assert out["expected_profit"].tolist() == pytest.approx([9, 5, 0.5, 0.5])
    assert out["roi"].tolist() == pytest.approx([1.5, 5, 0.125, 0.5])
    assert out["cumulative_cost"].tolist() == pytest.approx([6, 7, 11, 12])
    assert list(out.columns) == [c for c in TARGET_LIST_COLUMNS if c not in ("baseline_probability", "status")]
    assert out["best_hour"].isna().all()  # no send times given
    assert out.attrs["n_selected"] == 4 and out.attrs["total_expected_profit"] == pytest.approx(15)


def test_top_k_budget_and_rank_by_roi():
    assert build_target_list(SCORES, k=2, **KW)["customer_id"].tolist() == ["c1", "c2"]
    # budget 10: cumulative cost 6, 7, then 11 > 10 stops the list
    assert build_target_list(SCORES, budget=10, **KW)["customer_id"].tolist() == ["c1", "c2"]
    assert build_target_list(SCORES, budget=11, **KW)["customer_id"].tolist() == ["c1", "c2", "c4"]
    # by ROI: c2 (5), c1 (1.5), c3 (0.5), c4 (0.125); budget 7.5: 1, 7, then 8 > 7.5
    out = build_target_list(SCORES, budget=7.5, rank_by="roi", **KW)
    assert out["customer_id"].tolist() == ["c2", "c1"]
    # both constraints: budget 100 and k 3
    assert build_target_list(SCORES, budget=100, k=3, **KW)["customer_id"].tolist() == ["c1", "c2", "c4"]


def test_exclusion_forced_campaign_and_status():
    out = build_target_list(SCORES, exclude=["c1"], **KW)
    assert out["customer_id"].tolist() == ["c2", "c4", "c3"]
    assert out["rank"].tolist() == [2, 3, 4]  # ranks are positions in the full ranking
    # c5 loses money: only a forced campaign takes it
    assert "c5" not in build_target_list(SCORES, k=5, **KW)["customer_id"].tolist()
    forced = build_target_list(SCORES, k=5, allow_negative_profit=True, **KW)
    assert forced["customer_id"].tolist() == ["c1", "c2", "c4", "c3", "c5"]
    full = build_target_list(SCORES, budget=10, exclude=["c2"], include_unselected=True, **KW)
    # c1 (6) fits; c2 excluded; c4 would bring the cost to 10 (fits); c3 to 11 (no)
    assert full["customer_id"].tolist() == ["c1", "c2", "c4", "c3", "c5"]
    assert full["status"].tolist() == ["selected", "excluded", "selected", "over_budget", "not_profitable"]
    np.testing.assert_allclose(full["cumulative_cost"], [6, np.nan, 10, np.nan, np.nan])
    beyond = build_target_list(SCORES, k=1, include_unselected=True, **KW)
    assert beyond["status"].tolist() == ["selected", "beyond_k", "beyond_k", "beyond_k", "not_profitable"]


def test_scalar_inputs_send_times_baseline_and_kept_columns():
    send = pd.DataFrame({"customer_id": ["c1", "c2"], "best_weekday": [5, 1], "best_hour": [20, 9]})
    out = build_target_list(SCORES, contact_cost=1, margin_rate=0.3, avg_order_value=100.0, send_times=send,
                            keep_columns=["segment_name"])
    # no discount, v = 100: profit = 30 p - 1 -> c1 14, c4 8, c2 5, c3 0.5 (c5 -0.7)
    assert out["customer_id"].tolist() == ["c1", "c4", "c2", "c3"]
    assert out["expected_profit"].tolist() == pytest.approx([14, 8, 5, 0.5])
    assert out["best_hour"].tolist()[0] == 20 and out["best_hour"].isna().tolist() == [False, True, False, True]
    assert list(out.columns)[-1] == "segment_name" and out["segment_name"].tolist()[0] == "loyal"
    base = build_target_list(SCORES.assign(p0=[0.0, 0.3, 0.0, 0.0, 0.0]), baseline_probability="p0", **KW)
    assert "c1" not in base["customer_id"].tolist()  # incremental profit 0: not strictly positive
    assert "baseline_probability" in base.columns


def test_export_is_stable(tmp_path):
    out = build_target_list(SCORES, **KW, keep_columns=["segment_name"])
    a = export_target_list(out, tmp_path / "a" / "list.csv")
    b = export_target_list(out[out.columns[::-1]].iloc[::-1].assign(zz=1, aa=2), tmp_path / "b.csv")
    back = pd.read_csv(a)
    assert list(back.columns) == list(out.columns)
    assert back["customer_id"].tolist() == ["c1", "c2", "c4", "c3"]
    header_b = b.read_text().splitlines()[0].split(",")
    assert header_b == list(out.columns[:-1]) + ["aa", "segment_name", "zz"]  # extras sorted by name
    assert a.read_text().splitlines()[1].startswith("c1,1,0.5,0.1,")


def test_validation():
    with pytest.raises(ValueError, match=r"scores\['customer_id'\] must be unique"):
        build_target_list(pd.concat([SCORES, SCORES.head(1)]), **KW)
    with pytest.raises(ValueError, match=r"scores\['purchase_probability'\] must lie in \[0.0, 1.0\]"):
        build_target_list(SCORES.assign(purchase_probability=1.2), **KW)
    with pytest.raises(ValueError, match=r"scores\['discount_rate'\] must lie in \[0.0, 1.0\)"):
        build_target_list(SCORES.assign(discount_rate=1.0), **KW)
    with pytest.raises(ValueError, match=r"scores is missing column\(s\) 'avg_order_value'"):
        build_target_list(SCORES.drop(columns="avg_order_value"), **KW)
    with pytest.raises(ValueError, match="budget must be a non-negative number"):
        build_target_list(SCORES, budget=-1, **KW)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        build_target_list(SCORES, k=0, **KW)
    with pytest.raises(ValueError, match="margin_rate must lie in"):
        build_target_list(SCORES, contact_cost=1, margin_rate=1.5)
    with pytest.raises(ValueError, match="rank_by must be"):
        build_target_list(SCORES, rank_by="probability", **KW)
