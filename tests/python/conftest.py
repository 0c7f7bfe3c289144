"""Shared fixtures: the tiny simulated world, and a dbt build of it in its own DuckDB file.

``make test`` runs pytest on two worker processes (pytest-xdist, ``-n 2 --dist loadfile``). The tiny world
and its build are made **once** for the whole run, not once per worker: the first worker to need them builds
them under a file lock in the run's shared temporary folder, the others wait for it and read the same files
(every test opens the shared warehouse read-only or copies it; DuckDB allows any number of read-only
processes).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DBT, build_folder

from retail_lift.world import generate_world

if os.environ.get("PYTEST_XDIST_WORKER") and not hasattr(sys.modules["__main__"], "__file__"):
    sys.modules["__main__"].__file__ = str(Path(__file__).with_name("_worker_main.py"))  # see that file


_MAIN = sys.modules["__main__"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Streamlit's AppTest (tests/python/dashboard) installs the dashboard script as ``__main__`` and leaves it
    there; a ``spawn`` process pool of a later test in the same process (the experiment and gate harnesses) would
    then run the dashboard script in its children and break. Before every test, and so before the fixtures it
    sets up, ``__main__`` is the process's own again."""
    sys.modules["__main__"] = _MAIN


def _run_root(tmp_path_factory) -> Path:
    """The temporary folder every worker of this pytest run shares (the run's own folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_once(tmp_path_factory, name: str, make: Callable[[Path], Path]) -> Path:
    """``make(folder)`` run once per pytest run (across xdist workers); its returned path is shared.

    A failed ``make`` leaves no marker, so the next worker that asks tries again (and fails the same way)."""
    root = _run_root(tmp_path_factory)
    folder, marker = root / f"shared_{name}", root / f"shared_{name}.done"
    with _locked(root / f"shared_{name}.lock"):
        if not marker.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            result = make(folder)
            marker.write_text(str(result))
    return Path(marker.read_text())


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    def make(folder: Path) -> Path:
        out = folder / "tiny"
        generate_world("tiny", seed=7, out=out, progress=False)
        return out

    return shared_once(tmp_path_factory, "tiny_world", make)


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_world, tmp_path_factory) -> Path:
    """The tiny world built by dbt (every model and test) into its own DuckDB file."""
    if shutil.which(DBT) is None and not Path(DBT).exists():
        pytest.fail(f"dbt not found at {DBT}; run `make test` (it installs the pinned dependencies)")
    return shared_once(tmp_path_factory, "tiny_build",
                       lambda folder: build_folder(tiny_world / "raw", folder, truth_dir=tiny_world / "truth"))


def pytest_collection_modifyitems(config, items):
    """Every test that reads the shared tiny build is a dbt test, whatever its module says, so that
    `make test-fast` (-m "not dbt and not slow") never starts a dbt build.

    Then the files are ordered longest first, so that the two workers of ``make test`` (which hand out whole
    files in this order, ``--dist loadfile --no-loadscope-reorder``) finish together: the Spark files (a
    Spark build of the tiny world), then the files with a dbt build, then the rest (the order within a file,
    and of files within a group, is kept)."""
    for item in items:
        if "tiny_warehouse" in getattr(item, "fixturenames", ()) and item.get_closest_marker("dbt") is None:
            item.add_marker(pytest.mark.dbt)
    rank: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        group = 0 if "/spark/" in f"/{path}" else 1 if item.get_closest_marker("dbt") is not None else 2
        rank[path] = min(rank.get(path, 2), group)
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """A small fct_customer_features: 400 customers in both snapshots, purchase driven by recent visits."""
    rng = np.random.default_rng(3)
    n = 400
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for role in ("train", "score"):
        sessions = rng.poisson(2.0, n)
        orders = rng.poisson(0.8, n)
        p = 1 / (1 + np.exp(-(-2.0 + 0.8 * sessions)))
        bought = rng.random(n) < p
        channel = np.where(rng.random(n) < 0.4, "facebook", "organic_search")
        follows = np.where(channel == "facebook", rng.random(n) < 0.7, rng.random(n) < 0.15)
        rows.append(pd.DataFrame({
            "customer_id": ids,
            "snapshot_role": role,
            "feature_date": pd.Timestamp("2026-03-01" if role == "train" else "2026-04-01").date(),
            "age_band": rng.choice(["18-24", "25-34", "35-44"], n),
            "gender": rng.choice(["female", "male"], n),
            "acquisition_channel": channel,
            "follows_page": follows,
            "sessions_30d": sessions,
            "orders_all": orders,
            "revenue_all": orders * 40.0,
            "discount_amount": orders * rng.uniform(0, 6, n),
            "discounted_order_share": np.where(orders > 0, rng.uniform(0, 1, n), np.nan),
            "avg_order_value": np.where(orders > 0, 40.0, np.nan),
            "days_since_first_order": np.where(orders > 0, rng.uniform(5, 200, n), np.nan),
            "sessions_all": sessions * 3,
            "online_order_share": np.where(orders > 0, 0.5, np.nan),
            "purchased_next_30d": (bought if role == "train" else np.full(n, None)),
            "orders_next_30d": (bought.astype(float) if role == "train" else np.full(n, np.nan)),
            "returned": (np.where(orders == 1, bought, None) if role == "train" else np.full(n, None)),
        }))
    return pd.concat(rows, ignore_index=True)
