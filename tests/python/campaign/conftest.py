"""Fixtures for the segment, cross-sell and campaign tests.

k-means uses OpenMP threads; on a busy two-core machine their spin-waiting makes an 800-row fit take
half a second instead of 20 ms, so these tests run the native thread pools single-threaded.
"""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_native_pools():
    with threadpool_limits(limits=1):
        yield
