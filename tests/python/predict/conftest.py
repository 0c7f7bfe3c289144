"""Fixtures of the predict tests: small seeded feature marts and one shared training run.

OpenMP threads of xgboost spin while waiting; on a busy 2-core machine that makes a 2-thread fit
several times slower than a 1-thread one. ``OMP_WAIT_POLICY=PASSIVE`` (set here and by the package,
only if unset) avoids it when this folder runs on its own; OpenMP reads it once, when first loaded.
BLAS is kept to one thread for the logistic fits.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from predict_synthetic import FAST_PARAMS, make_customer_features  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from retail_lift.predict import train_compare_score  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def customer_mart():
    """3,000 train + 600 score customers with a logistic truth; returns (frame, true_prob)."""
    return make_customer_features(n_train=3000, n_score=600, seed=11)


@pytest.fixture(scope="session")
def propensity_result(customer_mart):
    """The three models on purchased_next_30d (shared by the train and end-to-end tests)."""
    frame, _ = customer_mart
    return train_compare_score(frame, "purchased_next_30d", k=(50, 100), random_state=0,
                               model_params=FAST_PARAMS)
