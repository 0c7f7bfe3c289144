"""Shared fixtures: the tiny simulated world, and a dbt build of it in its own DuckDB file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import DBT, build_folder

from retail_lift.world import generate_world


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "tiny"
    generate_world("tiny", seed=7, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_world, tmp_path_factory) -> Path:
    """The tiny world built by dbt (every model and test) into its own DuckDB file."""
    if shutil.which(DBT) is None and not Path(DBT).exists():
        pytest.fail(f"dbt not found at {DBT}; run `make test` (it installs the pinned dependencies)")
    work = tmp_path_factory.mktemp("tiny_build")
    return build_folder(tiny_world / "raw", work, truth_dir=tiny_world / "truth")


def pytest_collection_modifyitems(config, items):
    """Every test that reads the shared tiny build is a dbt test, whatever its module says, so that
    `make test-fast` (-m "not dbt and not slow") never starts a dbt build."""
    for item in items:
        if "tiny_warehouse" in getattr(item, "fixturenames", ()) and item.get_closest_marker("dbt") is None:
            item.add_marker(pytest.mark.dbt)
