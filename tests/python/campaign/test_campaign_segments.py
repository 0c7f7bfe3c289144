"""Segments: k found on synthetic blobs, centroids in original units, naming rules by hand, validation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from retail_lift.segments import fit_segments, name_segments

BEHAVIOUR = ["monetary_value", "frequency", "days_since_last_order", "days_since_first_order"]

# four planted groups: mean spend, orders, days since last order, days since first order, young share, size
GROUPS = {
    "high-value loyal": (2000, 20, 10, 700, 0.3, 150),
    "budget-conscious young": (150, 3, 40, 400, 0.9, 300),
    "lapsed": (500, 5, 400, 800, 0.3, 200),
    "new": (100, 1, 10, 20, 0.4, 150),
}


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    parts = []
    for name, (m, f, r, t, y, n) in GROUPS.items():
        parts.append(pd.DataFrame({
            "monetary_value": rng.normal(m, 0.1 * m, n).clip(1),
            "frequency": rng.normal(f, max(0.1 * f, 0.3), n).clip(0),
            "days_since_last_order": rng.normal(r, 0.1 * r, n).clip(0),
            "days_since_first_order": rng.normal(t, 0.1 * t, n).clip(0),
            "is_young": (rng.random(n) < y).astype(float),
            "truth": name,
        }))
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "customer_id", [f"c{i:04d}" for i in range(len(df))])
    return df


@pytest.fixture(scope="module")
def fitted(blobs):
    return fit_segments(blobs, BEHAVIOUR, profile_columns=["is_young"])


# ---- k, assignments, profiles on blobs ---------------------------------------------------------


def test_silhouette_finds_the_four_planted_groups(blobs, fitted):
    assert fitted.k == 4
    assert fitted.scores["k"].tolist() == list(range(2, 9))
    assert fitted.scores.loc[fitted.scores["is_chosen"], "k"].tolist() == [4]
    assert fitted.scores["silhouette"].idxmax() == 2  # k = 4
    assert adjusted_rand_score(blobs["truth"], fitted.assignments["segment_id"]) == 1.0
    # inertia (for the elbow plot) falls with k
    assert (np.diff(fitted.scores["inertia"]) < 0).all()


def test_silhouette_on_a_sample_still_finds_four(blobs):
    res = fit_segments(blobs, BEHAVIOUR, k_range=[3, 4, 5], sample_size=200)
    assert res.k == 4
    full = fit_segments(blobs, BEHAVIOUR, k_range=[3, 4, 5])
    # same k-means fits, only the silhouette differs (a 200-customer estimate)
    np.testing.assert_allclose(res.scores["inertia"], full.scores["inertia"])
    assert not np.allclose(res.scores["silhouette"], full.scores["silhouette"])
    np.testing.assert_allclose(res.scores["silhouette"], full.scores["silhouette"], atol=0.05)


@pytest.mark.parametrize("criterion", ["calinski_harabasz", "davies_bouldin", "elbow"])
def test_other_criteria_also_find_four(blobs, criterion):
    assert fit_segments(blobs, BEHAVIOUR, k_range=range(2, 7), criterion=criterion).k == 4


def test_names_follow_the_rules_on_blobs(blobs, fitted):
    # each planted group is one segment and gets the name its centroid implies
    pairs = pd.crosstab(blobs["truth"], fitted.assignments["segment_name"])
    assert (pairs.to_numpy() > 0).sum(axis=1).tolist() == [1, 1, 1, 1]
    for truth in GROUPS:
        assert pairs.loc[truth].idxmax() == truth
    assert fitted.assignments["customer_id"].tolist() == blobs["customer_id"].tolist()


def test_profiles_are_member_means_in_original_units(blobs, fitted):
    prof = fitted.profiles
    # largest segment first: budget-conscious young (300), lapsed (200), then the two 150s
    assert prof["size"].tolist() == [300, 200, 150, 150]
    assert prof["segment_id"].tolist() == [0, 1, 2, 3]
    assert prof.loc[0, "segment_name"] == "budget-conscious young"
    assert prof["share"].tolist() == pytest.approx([0.375, 0.25, 0.1875, 0.1875])
    joined = blobs.assign(segment_id=fitted.assignments["segment_id"])
    means = joined.groupby("segment_id")[BEHAVIOUR + ["is_young"]].mean()
    np.testing.assert_allclose(prof[BEHAVIOUR + ["is_young"]].to_numpy(), means.to_numpy())
    # size-weighted centroids reproduce the population mean (a property of member means)
    np.testing.assert_allclose((prof[BEHAVIOUR].to_numpy() * prof[["share"]].to_numpy()).sum(axis=0),
                               blobs[BEHAVIOUR].mean().to_numpy())
    assert list(prof.columns) == ["segment_id", "segment_name", "size", "share", *BEHAVIOUR, "is_young"]


def test_skewed_spend_is_log_transformed_by_default(fitted):
    # spend (a 2000 group among 100-500 groups), orders and days since last order are right-skewed
    assert "monetary_value" in fitted.log_columns
    assert "days_since_first_order" not in fitted.log_columns


def test_log_columns_explicit_and_none(blobs):
    res = fit_segments(blobs, BEHAVIOUR, k_range=[4], log_columns=None)
    assert res.log_columns == []
    res = fit_segments(blobs, BEHAVIOUR, k_range=[4], log_columns=["frequency"])
    assert res.log_columns == ["frequency"]
    Z = res.transform(blobs)
    x = np.log1p(blobs["frequency"].to_numpy())
    np.testing.assert_allclose(Z[:, 1], (x - x.mean()) / x.std())


def test_predict_reproduces_training_assignments_and_is_seeded(blobs, fitted):
    pred = fitted.predict(blobs.iloc[::-1])
    assert pred.iloc[::-1].reset_index(drop=True).equals(fitted.assignments)
    again = fit_segments(blobs, BEHAVIOUR, profile_columns=["is_young"])
    assert again.assignments.equals(fitted.assignments)
    pd.testing.assert_frame_equal(again.scores, fitted.scores)


# ---- naming rules by hand ----------------------------------------------------------------------

# sizes 40/20/20/10/10 -> overall means: spend 140, orders 4.4, days since last 57.5,
# days since first 412, young share 0.29
PROFILES = pd.DataFrame({
    "segment_id": [0, 1, 2, 3, 4],
    "size": [40, 20, 20, 10, 10],
    "monetary_value": [100, 400, 50, 40, 60],
    "frequency": [4, 10, 2, 1, 3],
    "days_since_last_order": [30, 10, 200, 5, 30],
    "days_since_first_order": [400, 600, 500, 20, 300],
    "is_young": [0.2, 0.2, 0.2, 0.5, 0.8],
})


def test_name_segments_by_hand():
    names = name_segments(PROFILES)
    # seg0: spend 100/140 = 0.71 <= 0.75, young 0.2/0.29 = 0.69    -> budget-conscious
    # seg1: spend 2.86, orders 10/4.4 = 2.27 (both >= 1.25)        -> high-value loyal
    # seg2: days since last 200/57.5 = 3.48 >= 1.5                 -> lapsed
    # seg3: days since first 20/412 = 0.05 <= 0.5                   -> new
    # seg4: spend 60/140 = 0.43, young 0.8/0.29 = 2.76              -> budget-conscious young
    assert names.tolist() == ["budget-conscious", "high-value loyal", "lapsed", "new", "budget-conscious young"]
    assert names.name == "segment_name"


def test_duplicate_names_get_numbered_in_segment_order():
    prof = PROFILES.assign(is_young=[0.2, 0.2, 0.2, 0.5, 0.2])  # seg4 no longer young -> budget-conscious too
    # shuffle the rows: numbering follows segment_id, and the result stays on the input index
    shuffled = prof.iloc[[4, 2, 0, 3, 1]]
    names = name_segments(shuffled)
    assert names.to_dict() == {4: "budget-conscious 2", 2: "lapsed", 0: "budget-conscious 1",
                               3: "new", 1: "high-value loyal"}


def test_remaining_rules_and_custom_roles():
    # equal sizes: mean spend 125 -> ratios 1.6, 0.8, 0.8, 0.8; mean orders 11.25 -> 0.89, 1.78, 0.44, 0.89
    prof = pd.DataFrame({"size": [1, 1, 1, 1], "spend": [200, 100, 100, 100], "orders": [10, 20, 5, 10]})
    names = name_segments(prof, roles={"monetary": "spend", "frequency": "orders"})
    assert names.tolist() == ["big spenders", "frequent shoppers", "occasional", "core"]
    # without roles nothing is recognised: every segment is "core", numbered
    assert name_segments(prof).tolist() == ["core 1", "core 2", "core 3", "core 4"]
    # thresholds are parameters: with high=2 the 1.6 spend ratio is no longer "high"
    assert name_segments(prof, roles={"monetary": "spend"}, high=2.0).tolist()[0] == "core 1"


# ---- validation --------------------------------------------------------------------------------


def test_validation_messages_name_the_problem(blobs):
    with pytest.raises(ValueError, match=r"features is missing column\(s\) 'nope'"):
        fit_segments(blobs, ["nope"])
    bad = blobs.copy()
    bad.loc[5, "frequency"] = np.nan
    with pytest.raises(ValueError, match=r"features\['frequency'\] contains 1 NaN"):
        fit_segments(bad, BEHAVIOUR)
    with pytest.raises(ValueError, match="criterion must be one of"):
        fit_segments(blobs, BEHAVIOUR, criterion="gap")
    with pytest.raises(ValueError, match="k_range values must lie in"):
        fit_segments(blobs.head(5), BEHAVIOUR, k_range=[2, 5])
    dup = blobs.copy()
    dup.loc[1, "customer_id"] = dup.loc[0, "customer_id"]
    with pytest.raises(ValueError, match=r"features\['customer_id'\] must be unique"):
        fit_segments(dup, BEHAVIOUR)
    with pytest.raises(ValueError, match="needs at least three values"):
        fit_segments(blobs, BEHAVIOUR, k_range=[2, 3], criterion="elbow")
    with pytest.raises(ValueError, match=r"roles\['monetary'\] names column 'x'"):
        name_segments(PROFILES, roles={"monetary": "x"})
    with pytest.raises(ValueError, match=r"profiles is missing column\(s\) 'size'"):
        name_segments(PROFILES.drop(columns="size"))
