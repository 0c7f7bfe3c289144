"""Run the uplift tests with one OpenMP / BLAS thread.

scikit-learn's HistGradientBoosting* use every core through OpenMP; on a shared 2-core machine the
spinning threads of concurrent jobs slow small fits down several-fold. One thread keeps this folder
fast (a few seconds) and its timings stable.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _uplift_single_thread():
    with threadpool_limits(limits=1):
        yield
