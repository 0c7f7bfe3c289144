"""Best send time: shrinkage to the global peak, computed by hand.

Activity: "bulk" 30 events on weekday 5 at 20:00, "few" 1 event on weekday 1 at 03:00, "many" 10 events
on weekday 2 at 08:00. Global shares: p(20) = 30/41, p(8) = 10/41, p(3) = 1/41 (the same for weekdays
5, 2, 1). With alpha = 10:

- few:  03:00 scores 1 + 10/41 = 1.24, 20:00 scores 300/41 = 7.32  -> 20:00, weekday 5 (fallback)
- many: 08:00 scores 10 + 100/41 = 12.44 > 7.32                   -> 08:00, weekday 2 (own)
"""

import pandas as pd
import pytest

from retail_lift.campaign import best_send_time

ACTIVITY = pd.DataFrame({
    "customer_id": ["bulk", "few", "many", "many"],
    "weekday": [5, 1, 2, 2],
    "hour": [20, 3, 8, 8],
    "events": [30, 1, 4, 6],  # "many" split over two rows: summed
})


def test_shrinkage_by_hand():
    out = best_send_time(ACTIVITY, customers=["none"])
    assert list(out.columns) == ["customer_id", "best_weekday", "best_hour", "events", "customer_weight"]
    got = out.set_index("customer_id")
    assert got.loc["few", ["best_weekday", "best_hour"]].tolist() == [5, 20]
    assert got.loc["many", ["best_weekday", "best_hour"]].tolist() == [2, 8]
    assert got.loc["bulk", ["best_weekday", "best_hour"]].tolist() == [5, 20]
    assert got.loc["none", ["best_weekday", "best_hour"]].tolist() == [5, 20]  # no history: global peak
    assert got["events"].to_dict() == {"bulk": 30, "few": 1, "many": 10, "none": 0}
    assert got["customer_weight"].to_dict() == pytest.approx({"bulk": 0.75, "few": 1 / 11, "many": 0.5, "none": 0})
    assert out["customer_id"].tolist() == ["bulk", "few", "many", "none"]
    assert (out.attrs["global_peak_hour"], out.attrs["global_peak_weekday"]) == (20, 5)


def test_prior_strength_controls_the_fallback():
    # alpha = 0: the customer's own mode
    got = best_send_time(ACTIVITY, prior_strength=0).set_index("customer_id")
    assert got.loc["few", ["best_weekday", "best_hour"]].tolist() == [1, 3]
    # 1 + alpha/41 vs 30 alpha/41: "few" keeps 03:00 only while alpha < 41/29 = 1.41
    assert best_send_time(ACTIVITY, prior_strength=1.4).set_index("customer_id").loc["few", "best_hour"] == 3
    assert best_send_time(ACTIVITY, prior_strength=1.42).set_index("customer_id").loc["few", "best_hour"] == 20


def test_ties_go_to_the_globally_busier_slot():
    act = pd.concat([ACTIVITY, pd.DataFrame({"customer_id": ["tie", "tie"], "weekday": [1, 2],
                                             "hour": [3, 8], "events": [1, 1]})])
    got = best_send_time(act, prior_strength=0).set_index("customer_id")
    # 1 event at 03:00 and 1 at 08:00: 08:00 (weekday 2) has more global activity
    assert got.loc["tie", ["best_weekday", "best_hour"]].tolist() == [2, 8]


def test_validation():
    with pytest.raises(ValueError, match=r"activity\['hour'\] must lie in 0-23; row 0 is 24"):
        best_send_time(ACTIVITY.assign(hour=[24, 3, 8, 8]))
    with pytest.raises(ValueError, match=r"activity\['events'\] must be >= 0"):
        best_send_time(ACTIVITY.assign(events=[-1, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"activity is missing column\(s\) 'weekday'"):
        best_send_time(ACTIVITY.drop(columns="weekday"))
    with pytest.raises(ValueError, match=r"activity\['hour'\] must hold whole numbers"):
        best_send_time(ACTIVITY.assign(hour=[20.5, 3, 8, 8]))
