"""Fixture for the quality tests: ``make_world(edit=None, keep_types=())`` (see quality_world.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from quality_world import good_raw, good_warehouse, write_world

Edit = Callable[[dict[str, pd.DataFrame], dict[str, pd.DataFrame]], None]


@pytest.fixture
def make_world(tmp_path) -> Callable[..., tuple[Path, Path]]:
    """make_world(edit=None, keep_types=()) -> (warehouse_path, raw_dir), in its own folder."""
    counter = iter(range(1000))

    def make(edit: Edit | None = None, keep_types: tuple[str, ...] = ()) -> tuple[Path, Path]:
        raw, warehouse = good_raw(), good_warehouse()
        if edit is not None:
            edit(raw, warehouse)
        return write_world(tmp_path / f"world{next(counter)}", raw, warehouse, keep_types)

    return make
