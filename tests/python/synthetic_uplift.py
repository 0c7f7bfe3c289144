"""A one-experiment uplift world for tests of the limits: the arm works on 40 % of the customers.

Who it works on is decided by an observable feature (``follows_page``), or, with ``hidden=True``, by a
coin that no feature shows. Used by ``uplift/test_uplift_limits.py`` and ``bench/test_uplift_ceiling.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retail_lift.uplift.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES


def one_arm_world(hidden: bool, n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(training, true_effects, truth_customers)`` of one experiment ``exp`` with one arm ``arm``.

    ``training`` has the columns of ``fct_uplift_training_exposures`` (one exposure per customer),
    ``true_effects`` those of ``truth_exposures`` (0.25 where the arm works, else 0) and
    ``truth_customers`` the uplift type (persuadable where the arm works, else lost_cause).
    """
    rng = np.random.default_rng(seed)
    frame = {c: rng.choice(["a", "b"], n) for c in CATEGORICAL_FEATURES}
    frame.update({c: rng.poisson(2, n).astype(float) for c in NUMERIC_FEATURES})
    frame["follows_page"] = rng.random(n) < 0.4
    frame["heard_of_shop"] = rng.random(n) < 0.5
    driver = rng.random(n) < 0.4 if hidden else frame["follows_page"]
    tau = np.where(driver, 0.25, 0.0)
    treated = rng.random(n) < 0.5
    y = rng.random(n) < 0.05 + treated * tau
    ids = np.array([f"e{i:05d}" for i in range(n)])
    training = pd.DataFrame({"exposure_id": ids, "experiment_id": "exp", "customer_id": ids,
                             "variant": np.where(treated, "arm", "control"), "is_control": ~treated,
                             "is_converted": y, **frame})
    truth = pd.DataFrame({"exposure_id": ids, "promotion_id": "arm", "true_uplift": tau})
    customers = pd.DataFrame({"customer_id": ids, "uplift_type": np.where(driver, "persuadable", "lost_cause")})
    return training, truth, customers
