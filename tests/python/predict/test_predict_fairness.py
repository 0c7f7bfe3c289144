"""fairness_report on ten customers computed by hand.

    row  y  selected  gender  age_band
    0    1  1         f       a
    1    1  0         f       b
    2    0  1         f       a
    3    0  0         f       b
    4    1  1         m       a
    5    0  1         m       b
    6    0  0         m       a
    7    0  0         m       b
    8    0  0         m       (missing)
    9    1  0         m       (missing)

gender f: n 4, positives 2 (rows 0, 1), selected 2 (0, 2), TP 1 -> rate 1/2, precision 1/2, TPR 1/2
gender m: n 6, positives 2 (4, 9), selected 2 (4, 5), TP 1      -> rate 1/3, precision 1/2, TPR 1/2
  demographic parity difference 1/2 - 1/3 = 1/6 (> 0.1), equal opportunity difference 0
age a: n 4, positives 2, selected 3, TP 2 -> rate 3/4, precision 2/3, TPR 1
age b: n 4, positives 1, selected 1, TP 0 -> rate 1/4, precision 0,   TPR 0
(missing): n 2, positives 1, selected 0   -> rate 0,   precision NaN, TPR 0
  demographic parity difference 3/4 - 0 = 3/4; without groups under 3 customers 3/4 - 1/4 = 1/2
  equal opportunity difference 1 - 0 = 1
"""

import numpy as np
import pandas as pd
import pytest

from retail_lift.predict import fairness_report

Y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 1]
SELECTED = [1, 0, 1, 0, 1, 1, 0, 0, 0, 0]
GROUPS = {
    "gender": ["f"] * 4 + ["m"] * 6,
    "age_band": ["a", "b", "a", "b", "a", "b", "a", "b", None, None],
}


def test_by_group_by_hand():
    by_group, _ = fairness_report(Y, SELECTED, GROUPS)
    assert list(by_group.columns) == ["attribute", "group", "n", "positives", "selected", "true_positives",
                                      "selection_rate", "precision", "tpr"]
    g = by_group.set_index(["attribute", "group"])
    assert g.loc[("gender", "f"), ["n", "positives", "selected", "true_positives"]].tolist() == [4, 2, 2, 1]
    assert g.loc[("gender", "m"), ["n", "positives", "selected", "true_positives"]].tolist() == [6, 2, 2, 1]
    np.testing.assert_allclose(g.loc["gender", "selection_rate"], [1 / 2, 1 / 3])
    np.testing.assert_allclose(g.loc["gender", "precision"], [1 / 2, 1 / 2])
    np.testing.assert_allclose(g.loc["gender", "tpr"], [1 / 2, 1 / 2])
    age = g.loc["age_band"]
    assert age.index.tolist() == ["(missing)", "a", "b"]
    np.testing.assert_allclose(age["selection_rate"], [0, 3 / 4, 1 / 4])
    np.testing.assert_allclose(age["precision"], [np.nan, 2 / 3, 0])  # nobody selected: NaN
    np.testing.assert_allclose(age["tpr"], [0, 1, 0])


def test_summary_by_hand():
    _, summary = fairness_report(Y, SELECTED, GROUPS)
    s = summary.set_index(["attribute", "metric"])
    dp = s.loc[("gender", "demographic_parity_difference")]
    assert dp["value"] == pytest.approx(1 / 6) and dp["exceeds_threshold"]
    assert (dp["max_group"], dp["min_group"], dp["n_groups"], dp["threshold"]) == ("f", "m", 2, 0.1)
    eo = s.loc[("gender", "equal_opportunity_difference")]
    assert eo["value"] == 0.0 and not eo["exceeds_threshold"]
    assert s.loc[("age_band", "demographic_parity_difference"), "value"] == pytest.approx(3 / 4)
    assert s.loc[("age_band", "demographic_parity_difference"), "min_group"] == "(missing)"
    assert s.loc[("age_band", "equal_opportunity_difference"), "value"] == pytest.approx(1.0)


def test_threshold_and_min_group_size():
    _, loose = fairness_report(Y, SELECTED, GROUPS, threshold=0.2)
    flags = loose.set_index(["attribute", "metric"])["exceeds_threshold"]
    assert not flags[("gender", "demographic_parity_difference")]  # 1/6 <= 0.2
    assert flags[("age_band", "demographic_parity_difference")]
    _, big_only = fairness_report(Y, SELECTED, GROUPS, min_group_size=3)
    row = big_only.set_index(["attribute", "metric"]).loc[("age_band", "demographic_parity_difference")]
    assert row["value"] == pytest.approx(1 / 2) and row["n_groups"] == 2


def test_dataframe_groups_and_boolean_inputs():
    by_dict, sum_dict = fairness_report(Y, SELECTED, GROUPS)
    by_df, sum_df = fairness_report(np.array(Y, dtype=bool), np.array(SELECTED, dtype=bool), pd.DataFrame(GROUPS))
    pd.testing.assert_frame_equal(by_dict, by_df)
    pd.testing.assert_frame_equal(sum_dict, sum_df)


def test_no_gap_when_everyone_is_treated_alike():
    _, summary = fairness_report([1, 0, 1, 0], [1, 1, 1, 1], {"gender": ["f", "f", "m", "m"]})
    assert summary["value"].tolist() == [0.0, 0.0] and not summary["exceeds_threshold"].any()


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((Y, SELECTED[:-1], GROUPS), {}, "equal lengths"),
        ((Y, [2] * 10, GROUPS), {}, "selected must contain only 0 and 1"),
        ((Y, SELECTED, {"gender": ["f"] * 9}), {}, r"groups\['gender'\] has 9 values"),
        ((Y, SELECTED, {}), {}, "groups must be a non-empty dict"),
        ((Y, SELECTED, GROUPS), {"threshold": -0.1}, "threshold must be a non-negative number"),
        ((Y, SELECTED, GROUPS), {"min_group_size": 0}, "min_group_size must be a positive integer"),
    ],
)
def test_invalid_inputs(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fairness_report(*args, **kwargs)
