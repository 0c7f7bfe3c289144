"""Read the published snapshot (never the warehouse): what ``dashboard/app.py`` shows.

``RETAIL_LIFT_SNAPSHOT`` names either the snapshot root (``warehouse/snapshot``, whose ``current``
link is followed) or one snapshot folder (the one holding ``manifest.json``).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .snapshot import CURRENT, MANIFEST

DEFAULT_SNAPSHOT_ROOT = Path("warehouse/snapshot")
SNAPSHOT_ENV = "RETAIL_LIFT_SNAPSHOT"


class SnapshotNotFoundError(FileNotFoundError):
    """No snapshot has been published where the dashboard looks."""


def snapshot_root(root: str | Path | None = None) -> Path:
    """``root``, else ``$RETAIL_LIFT_SNAPSHOT``, else ``warehouse/snapshot``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(SNAPSHOT_ENV)
    return Path(env) if env else DEFAULT_SNAPSHOT_ROOT


def resolve_snapshot_dir(root: str | Path | None = None) -> Path:
    """The folder of the snapshot to read: ``root`` itself when it holds a manifest, else ``root/current``."""
    root = snapshot_root(root)
    if (root / MANIFEST).is_file():
        return root.resolve()
    link = root / CURRENT
    if link.exists() and (link / MANIFEST).is_file():
        return link.resolve()
    raise SnapshotNotFoundError(
        f"no dashboard snapshot at {root}: run `make build` (its snapshot step publishes one) or "
        f"`retail-lift publish-snapshot --out {root}` after a build, or point {SNAPSHOT_ENV} at a snapshot folder")


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot: its folder and manifest; tables are read on demand."""

    path: Path
    manifest: dict

    @property
    def snapshot_id(self) -> str:
        return self.manifest["snapshot_id"]

    @property
    def tables(self) -> dict[str, dict]:
        return self.manifest.get("tables", {})

    def has(self, name: str) -> bool:
        return name in self.tables

    def missing_reason(self, name: str) -> str:
        """Why ``name`` is not in the snapshot (a sentence for the user)."""
        reason = self.manifest.get("missing", {}).get(name)
        if reason:
            return f"No `{name}` data in this snapshot: {reason}."
        return f"No `{name}` data in this snapshot (the snapshot predates it: publish a new one)."

    def row_count(self, name: str) -> int | None:
        entry = self.tables.get(name)
        return None if entry is None else int(entry["rows"])

    def table(self, name: str) -> pd.DataFrame | None:
        """The table as a DataFrame, or None when it is missing from the snapshot."""
        entry = self.tables.get(name)
        if entry is None:
            return None
        return pd.read_parquet(self.path / entry["file"])


def open_snapshot(root: str | Path | None = None) -> Snapshot:
    """The current snapshot (see :func:`resolve_snapshot_dir`)."""
    path = resolve_snapshot_dir(root)
    manifest = json.loads((path / MANIFEST).read_text())
    return Snapshot(path=path, manifest=manifest)


def target_list_csv(targets: pd.DataFrame) -> bytes:
    """The campaign target list as CSV bytes: the snapshot's ``campaign_targets`` rows and columns as they are
    (the snapshot stores them in the order ``retail-lift export-targets`` writes)."""
    buf = io.StringIO()
    targets.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------
# small shaping helpers used by the app (kept here so they are tested without Streamlit)
# ---------------------------------------------------------------------------------------------


def experiment_overview(results: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: variants compared, metrics, verdicts and whether the SRM check failed."""
    if results.empty:
        return pd.DataFrame(columns=["experiment_id", "variants", "metrics", "verdicts", "is_srm",
                                     "control_users", "significant_results"])
    g = results.groupby("experiment_id", sort=True)
    return pd.DataFrame({
        "variants": g["variant"].nunique(),
        "metrics": g["metric_name"].nunique(),
        "verdicts": g["decision"].agg(lambda s: ", ".join(sorted(set(s)))),
        "is_srm": g["is_srm"].any() if "is_srm" in results else False,
        "control_users": g["control_users"].max(),
        "significant_results": g["is_significant"].sum().astype(int),
    }).reset_index()


def arm_mix_shares(daily: pd.DataFrame, freq: str = "W-SUN") -> pd.DataFrame:
    """Share of decisions per arm per period from decision_arm_mix_daily: ISO weeks (Monday to Sunday,
    pandas ``W-SUN``) by default, ``D`` for days."""
    if daily.empty:
        return pd.DataFrame(columns=["period_start", "promotion_id", "decisions", "share"])
    d = daily.copy()
    dates = pd.to_datetime(d["decision_date"])
    if freq == "D":
        d["period_start"] = dates
    else:
        d["period_start"] = dates.dt.to_period(freq).dt.start_time
    agg = d.groupby(["period_start", "promotion_id"], as_index=False)["decisions"].sum()
    agg["share"] = agg["decisions"] / agg.groupby("period_start")["decisions"].transform("sum")
    return agg.sort_values(["period_start", "promotion_id"], ignore_index=True)


def frontier_points(frontier: pd.DataFrame) -> pd.DataFrame:
    """One row per budget of the plan's frontier (the snapshot's ``plan_frontier``, one row per budget ×
    promotion): ``point``, ``budget``, ``is_plan_budget`` and the budget's totals, by budget."""
    cols = ["point", "budget", "is_plan_budget", "total_customers", "total_expected_incremental_margin",
            "total_expected_cost", "upper_bound", "gap", "method"]
    if frontier.empty:
        return pd.DataFrame(columns=cols)
    return frontier.drop_duplicates("point")[cols].sort_values(["budget", "point"], ignore_index=True)


def plan_point(points: pd.DataFrame) -> int:
    """The point of the plan's budget (the last point if none is marked)."""
    marked = points[points["is_plan_budget"].astype(bool)]
    return int(marked["point"].iloc[0] if len(marked) else points["point"].iloc[-1])


def plan_mix(frontier: pd.DataFrame, point: int) -> pd.DataFrame:
    """The promotions the frontier's ``point`` gives to at least one customer: customers, expected incremental
    margin and cost per promotion, and each one's share of the point's customers and margin; most customers first."""
    mix = frontier[(frontier["point"] == point) & (frontier["planned_customers"] > 0)]
    mix = mix[["promotion_id", "channel", "planned_customers", "expected_incremental_margin", "expected_cost"]].copy()
    customers, margin = mix["planned_customers"].sum(), mix["expected_incremental_margin"].sum()
    mix["share_of_customers"] = mix["planned_customers"] / customers if customers else 0.0
    mix["share_of_margin"] = mix["expected_incremental_margin"] / margin if margin else 0.0
    return mix.sort_values(["planned_customers", "promotion_id"], ascending=[False, True], ignore_index=True)
