"""Fatigue flags and the fatigue curve on a hand-worked example.

as_of = 2024-01-08 (the latest exposure), window 30 days, recent_n = 3, margin 0.5, prior 2 pseudo-exposures,
min_recent_exposures = 2.

    A  daily Jan 1-8, converted 1 1 0 1 0 | 0 0 0     last 3: 0/3, earlier 3/5, 8 in window
    B  Jan 2 4 6 8,   converted 0 | 1 0 1             last 3: 2/3, earlier 0/1, 4 in window
    C  Dec 1 2,       converted 0 0                   only 2 exposures (< recent_n), 0 in window
    D  Nov 1 2 3, Jan 8, converted 1 | 0 0 0          last 3: 0/3, earlier 1/1, 1 in window

Population earlier rate p = (3 + 0 + 1) / (5 + 1 + 1) = 4/7. Baseline (earlier conv + 2p) / (earlier n + 2):
A (3 + 8/7) / 7 = 29/49, B (8/7) / 3 = 8/21, C p = 4/7, D (1 + 8/7) / 3 = 5/7.
Binomial p-value P(X <= last-3 conversions | 3, baseline): A (20/49)^3 = 0.068, B 1 - (8/21)^3 = 0.945,
C (2 exposures) (3/7)^2 = 0.184, D (2/7)^3 = 0.023.
Fatigued: A (0 < 0.5 * 29/49, 8 recent, 0.068 < 0.1). Not B (2/3 above), not C (too few), not D (1 recent < 2).
"""

import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign import fatigue_curve, fatigue_flags


def _exposures():
    rows = []
    for i, y in enumerate([1, 1, 0, 1, 0, 0, 0, 0]):
        rows.append(("A", f"2024-01-{i + 1:02d}", y))
    for day, y in zip([2, 4, 6, 8], [0, 1, 0, 1], strict=True):
        rows.append(("B", f"2024-01-{day:02d}", y))
    rows += [("C", "2023-12-01", 0), ("C", "2023-12-02", 0)]
    rows += [("D", "2023-11-01", 1), ("D", "2023-11-02", 0), ("D", "2023-11-03", 0), ("D", "2024-01-08", 0)]
    df = pd.DataFrame(rows, columns=["customer_id", "exposed_at", "converted"])
    return df.sample(frac=1, random_state=1).reset_index(drop=True)  # order must not matter


KW = dict(window_days=30, recent_n=3, margin=0.5, prior_strength=2, min_recent_exposures=2)


def test_fatigue_flags_by_hand():
    out = fatigue_flags(_exposures(), **KW)
    assert out.attrs["population_rate"] == pytest.approx(4 / 7)
    got = out.set_index("customer_id")
    assert got["n_exposures"].to_dict() == {"A": 8, "B": 4, "C": 2, "D": 4}
    assert got["conversions"].to_dict() == {"A": 3, "B": 2, "C": 0, "D": 1}
    assert got["recent_exposures"].to_dict() == {"A": 8, "B": 4, "C": 0, "D": 1}
    assert got["last_n_exposures"].to_dict() == {"A": 3, "B": 3, "C": 2, "D": 3}
    assert got["last_n_rate"].to_dict() == pytest.approx({"A": 0, "B": 2 / 3, "C": 0, "D": 0})
    assert got["earlier_exposures"].to_dict() == {"A": 5, "B": 1, "C": 0, "D": 1}
    np.testing.assert_allclose(got["earlier_rate"].to_numpy(), [3 / 5, 0, np.nan, 1])
    assert got["baseline_rate"].to_dict() == pytest.approx({"A": 29 / 49, "B": 8 / 21, "C": 4 / 7, "D": 5 / 7})
    assert got["p_value"].to_dict() == pytest.approx({"A": (20 / 49) ** 3, "B": 1 - (8 / 21) ** 3,
                                                      "C": (3 / 7) ** 2, "D": (2 / 7) ** 3})
    assert got["is_fatigued"].to_dict() == {"A": True, "B": False, "C": False, "D": False}


def test_flag_parameters():
    # D is fatigued once one exposure in the window is enough
    got = fatigue_flags(_exposures(), **{**KW, "min_recent_exposures": 1}).set_index("customer_id")
    assert got["is_fatigued"].to_dict() == {"A": True, "B": False, "C": False, "D": True}
    # as of Jan 5 the later exposures do not exist yet: A has 5 (last 3: 0 1 0 -> 1/3), B has 2
    got = fatigue_flags(_exposures(), as_of="2024-01-05", **KW).set_index("customer_id")
    assert got["n_exposures"].to_dict() == {"A": 5, "B": 2, "C": 2, "D": 3}
    assert got.loc["A", "last_n_rate"] == pytest.approx(1 / 3)
    # margin 0.9: A's 0/3 is still below 0.1 * 29/49
    assert fatigue_flags(_exposures(), **{**KW, "margin": 0.9})["is_fatigued"].sum() == 1
    # alpha 0.05: A's drop (p = 0.068) is no longer convincing
    assert fatigue_flags(_exposures(), **{**KW, "alpha": 0.05})["is_fatigued"].sum() == 0


def test_fatigue_curve_by_hand():
    curve = fatigue_curve(_exposures(), max_prior=3)
    # prior exposures (all time) and outcomes:
    #   0: A1 B0 C0 D1 -> 4, 2    1: A1 B1 C0 D0 -> 4, 2    2: A0 B0 D0 -> 3, 0
    #   3+: A 1 0 0 0 0, B 1, D 0 -> 7, 2
    assert curve["prior_exposures"].tolist() == [0, 1, 2, 3]
    assert curve["exposures"].tolist() == [4, 4, 3, 7]
    assert curve["conversions"].tolist() == [2, 2, 0, 2]
    assert curve["response_rate"].tolist() == pytest.approx([0.5, 0.5, 0.0, 2 / 7])
    # 95 % Wilson interval of 2/4: (0.1500, 0.8500)
    assert curve.loc[0, ["ci_low", "ci_high"]].tolist() == pytest.approx([0.15004, 0.84996], abs=1e-4)
    assert curve.loc[2, "ci_low"] == pytest.approx(0.0, abs=1e-12)


def test_fatigue_curve_window():
    ex = pd.DataFrame({
        "customer_id": "x",
        "exposed_at": pd.Timestamp("2024-01-01") + pd.to_timedelta([0, 1, 5, 6, 6.5], unit="D"),
        "converted": [1, 1, 1, 0, 0],
    })
    # prior exposures in the 2 days before: day 0 -> 0, day 1 -> 1, day 5 -> 0, day 6 -> 1, day 6.5 -> 2
    curve = fatigue_curve(ex, window_days=2, max_prior=5)
    assert curve["prior_exposures"].tolist() == [0, 1, 2]
    assert curve["exposures"].tolist() == [2, 2, 1]
    assert curve["conversions"].tolist() == [2, 1, 0]


def test_population_fatigue_shows_in_the_curve_and_flags_fire_on_decay_only():
    """Simulated decay: response 0.6 * 0.7^k at the k-th exposure for 'decaying' customers, a steady 0.44
    (about their earlier mean) for 'steady' ones. The curve falls; the flag fires on the decaying group
    (about half: those without a conversion in their last five) and rarely on the steady one."""
    rng = np.random.default_rng(5)
    rows = []
    for c in range(1200):
        decaying = c % 2 == 0
        for k in range(8):
            rate = 0.6 * 0.7**k if decaying else 0.44
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=4 * k), rng.random() < rate))
    ex = pd.DataFrame(rows, columns=["customer_id", "exposed_at", "converted"])
    curve = fatigue_curve(ex[ex["customer_id"] % 2 == 0], max_prior=7)
    np.testing.assert_allclose(curve["response_rate"], 0.6 * 0.7 ** np.arange(8), atol=0.06)
    flags = fatigue_flags(ex, recent_n=5)
    share = flags.groupby(flags["customer_id"] % 2)["is_fatigued"].mean()
    assert 0.35 < share[0] < 0.7
    assert share[1] < 0.1
    # the margin rule alone (alpha = 1) also flags more of the steady customers
    loose = fatigue_flags(ex, recent_n=5, alpha=1.0)
    assert loose.loc[loose["customer_id"] % 2 == 1, "is_fatigued"].mean() > share[1]


def test_validation():
    ex = _exposures()
    with pytest.raises(ValueError, match=r"exposures\['converted'\] must contain only 0 and 1"):
        fatigue_flags(ex.assign(converted=2))
    with pytest.raises(ValueError, match=r"exposures is missing column\(s\) 'exposed_at'"):
        fatigue_flags(ex.drop(columns="exposed_at"))
    with pytest.raises(ValueError, match=r"exposures\['exposed_at'\] has 1 missing timestamp"):
        fatigue_flags(ex.assign(exposed_at=[None] + list(ex["exposed_at"][1:])))
    with pytest.raises(ValueError, match="margin must lie in"):
        fatigue_flags(ex, margin=1.0)
    with pytest.raises(ValueError, match="recent_n must be a positive integer"):
        fatigue_flags(ex, recent_n=0)
