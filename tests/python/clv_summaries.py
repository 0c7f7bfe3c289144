"""RFM summaries for the CLV tests (the lifetimes layout: frequency, recency, T, monetary_value)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def summary(frequency, recency, T, monetary, **extra) -> pd.DataFrame:
    n = len(frequency)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "frequency": frequency, "recency": recency,
                         "T": T, "monetary_value": monetary, **extra})


def no_dropout_summary(seed: int = 11, n: int = 400) -> pd.DataFrame:
    """Customers who buy at their own Poisson rates and never churn (BG/NBD's NBD limit a -> 0)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(30, 90, n)
    lam = rng.gamma(0.6, 1 / 20.0, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        times = np.cumsum(rng.exponential(1 / lam[i], 50))
        times = times[times <= T[i]]
        x[i], tx[i] = len(times), (times[-1] if len(times) else 0.0)
    return summary(x, np.round(tx), np.round(T), np.where(x > 0, 20.0, 0.0))
