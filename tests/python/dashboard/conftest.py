"""The dashboard's snapshot, published once from the tiny warehouse of the session (tests/python/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_lift.dashboard.snapshot import publish_snapshot


@pytest.fixture(scope="session")
def tiny_snapshot(tiny_warehouse, tmp_path_factory) -> Path:
    """Root folder of a snapshot published from the tiny warehouse (its `current` link points at it)."""
    root = tmp_path_factory.mktemp("dashboard") / "snapshot"
    publish_snapshot(tiny_warehouse, root, run_results=tiny_warehouse.parent / "target" / "run_results.json")
    return root
