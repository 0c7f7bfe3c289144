"""A small customer-feature mart with a known logistic truth, shaped like ``fct_customer_features``.

``make_customer_features(n_train, n_score, seed)`` returns ``(frame, true_prob)``: one row per
customer x snapshot_role, ids, the warehouse's categorical / boolean / numeric kinds (with missing
values), label columns filled on 'train' rows only, and the true purchase probability of every row::

    logit P(purchased_next_30d = 1) = -2.2 + 0.9 z(frequency) - 0.8 z(recency_days)
                                      + 0.6 [follows_page] + 0.5 [acquisition_channel = email]
                                      + 0.4 [age_band = 25-34] + 0.5 z(sessions_30d)

``n_noise`` extra pure-noise numeric columns widen the frame (for the runtime benchmark).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retail_lift.contract import ACQUISITION_CHANNELS

# Smaller boosters than the package defaults (which are sized for ~50k customers): the tests need
# correct behaviour, not the last point of AUC, and must stay fast on two shared cores.
FAST_PARAMS = {
    "xgboost": {"n_estimators": 80, "max_depth": 3, "learning_rate": 0.1},
    "catboost": {"iterations": 80, "depth": 4, "learning_rate": 0.15},
}

CHANNELS = np.array(ACQUISITION_CHANNELS)
AGE_BANDS = np.array(["18-24", "25-34", "35-44", "45-54", "55+"])


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def make_customer_features(n_train: int = 2000, n_score: int = 500, seed: int = 0,
                           n_noise: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_train + n_score
    frequency = rng.poisson(1.5, n).astype(float)
    recency = rng.gamma(2.0, 30.0, n)
    sessions = rng.poisson(3.0, n).astype(float)
    follows = rng.random(n) < 0.3
    channel = CHANNELS[rng.choice(5, n, p=[0.3, 0.25, 0.15, 0.2, 0.1])]
    # acquisition channel depends on age and device so that a facebook model has something to learn
    age = AGE_BANDS[rng.choice(5, n, p=[0.2, 0.3, 0.25, 0.15, 0.1])]
    logit = (-2.2 + 0.9 * _z(frequency) - 0.8 * _z(recency) + 0.6 * follows + 0.5 * (channel == "email")
             + 0.4 * (age == "25-34") + 0.5 * _z(sessions))
    true_prob = 1.0 / (1.0 + np.exp(-logit))
    purchased = (rng.random(n) < true_prob).astype(float)
    revenue = purchased * rng.gamma(2.0, 25.0, n)
    returned = np.where(frequency == 0, (rng.random(n) < true_prob * 0.8).astype(float), np.nan)
    device = np.where(channel == "facebook", rng.choice(["mobile", "desktop"], n, p=[0.8, 0.2]),
                      rng.choice(["mobile", "desktop", "tablet"], n, p=[0.4, 0.5, 0.1]))
    heard = pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype="boolean")
    monetary = np.where(frequency > 0, rng.gamma(2.0, 30.0, n), np.nan)  # missing for non-buyers
    role = np.array(["train"] * n_train + ["score"] * n_score)
    frame = pd.DataFrame({
        "customer_id": [f"c{i:06d}" for i in range(n)],
        "snapshot_role": role,
        "feature_date": pd.Timestamp("2024-06-01").date(),
        "age_band": pd.Series(age, dtype="str").where(rng.random(n) > 0.05),
        "gender": rng.choice(["f", "m", "x"], n, p=[0.5, 0.45, 0.05]),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "acquisition_channel": channel,
        "device_preference": device,
        "follows_page": follows,
        "heard_of_shop": heard,
        "frequency": frequency,
        "recency_days": recency,
        "sessions_30d": sessions,
        "monetary_value": monetary,
    })
    for j in range(n_noise):
        frame[f"noise_{j:02d}"] = rng.normal(size=n)
    train = role == "train"
    frame["purchased_next_30d"] = np.where(train, purchased, np.nan)
    frame["revenue_next_30d"] = np.where(train, revenue, np.nan)
    frame["returned"] = np.where(train, returned, np.nan)
    return frame, true_prob


def make_category_features(n_train: int = 600, n_score: int = 150, seed: int = 0,
                           categories: tuple[str, ...] = ("books", "garden", "toys", "tech")
                           ) -> tuple[pd.DataFrame, np.ndarray]:
    """``fct_customer_category_features``: one row per customer x top-level category x snapshot_role.

    ``logit = base[category] + 0.8 z(views_in_category_30d) + 0.5 z(frequency)``, with the base rates
    of the categories far apart so that the category itself is an informative feature.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_score
    base = dict(zip(categories, np.linspace(-3.0, -0.5, len(categories)), strict=True))
    customers = np.repeat(np.arange(n), len(categories))
    category = np.tile(np.array(categories), n)
    frequency = np.repeat(rng.poisson(1.5, n).astype(float), len(categories))
    views = rng.poisson(2.0, customers.size).astype(float)
    logit = np.array([base[c] for c in category]) + 0.8 * _z(views) + 0.5 * _z(frequency)
    true_prob = 1 / (1 + np.exp(-logit))
    role = np.where(customers < n_train, "train", "score")
    label = np.where(role == "train", (rng.random(customers.size) < true_prob).astype(float), np.nan)
    frame = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in customers],
        "category_id": category,
        "snapshot_role": role,
        "feature_date": pd.Timestamp("2024-06-01").date(),
        "views_in_category_30d": views,
        "frequency": frequency,
        "purchased_category_next_30d": label,
    })
    return frame, true_prob
