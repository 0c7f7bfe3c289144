"""Publish the dashboard's read-only snapshot of the warehouse (``retail-lift publish-snapshot``).

Layout of ``out_dir`` (``warehouse/snapshot`` by default)::

    warehouse/snapshot/
        current -> 20261128T051502Z-3f9a1c      (a relative symbolic link)
        20261128T051502Z-3f9a1c/
            manifest.json                       (tables, row counts, sources, the dbt build)
            experiment_results.parquet
            ...

:func:`publish_snapshot` opens the warehouse read-only once, copies every table of
:data:`SNAPSHOT_TABLES` whose sources exist into a hidden temporary folder (DuckDB writes the
Parquet files itself; only the uplift holdout predictions pass through Python to compute the Qini
curves), closes the warehouse, writes the manifest, renames the folder to its final name and then
replaces the ``current`` link with one ``rename`` (atomic on POSIX). A dashboard that resolves
``current`` therefore sees either the old complete snapshot or the new complete one. The previous
snapshot is kept (a dashboard may still be reading it); older ones are removed.

A table whose source relation is not in the warehouse (e.g. data with orders but no web events, or
a build that skipped the ML layer) is listed under ``missing`` in the manifest with the reason, and
the dashboard shows that reason instead of a chart.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

MANIFEST = "manifest.json"
CURRENT = "current"
SNAPSHOT_FORMAT_VERSION = 1
# Points per Qini curve in the snapshot (the curves are interpolated on this grid of shares targeted).
QINI_GRID_POINTS = 101
# Planned customers per promotion whose reasons the snapshot keeps (the plan itself has a row per customer).
PLAN_SAMPLE_CUSTOMERS = 20


@dataclass(frozen=True)
class SnapshotTable:
    """One table of the snapshot: the warehouse relations it needs and how it is computed from them.

    ``sql`` is a DuckDB query over the fully qualified relations (``schema.table``). Without
    ``transform`` DuckDB writes its result to Parquet directly; with it, the result is fetched while
    the warehouse is open and ``transform`` (for values that need the package's functions, such as
    the Qini curves) runs after the warehouse is closed.
    """

    name: str
    sources: tuple[str, ...]
    description: str
    sql: str
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = field(default=None, compare=False)


def _qini_curves(preds: pd.DataFrame) -> pd.DataFrame:
    """Qini curves of the out-of-fold predictions, per arm: model, perfect and random. One curve per arm of all
    its out-of-fold predictions (each fold's learner was chosen on the other folds, so folds may use different
    learners; ``learner`` lists them, e.g. ``t/x``), as the reported ``qini_auc``."""
    from retail_lift.uplift import perfect_qini_curve, qini_curve

    grid = np.linspace(0.0, 1.0, QINI_GRID_POINTS)
    frames = []
    for (experiment_id, promotion_id), g in preds.groupby(["experiment_id", "promotion_id"], sort=True):
        learner = "/".join(sorted(g["learner"].dropna().astype(str).unique()))
        y = g["is_converted"].astype(float).to_numpy()
        t = g["is_treated"].astype(int).to_numpy()
        u = g["predicted_uplift"].astype(float).to_numpy()
        n = float(len(g))
        x_model, q_model = qini_curve(y, u, t)
        x_best, q_best = perfect_qini_curve(y, t)
        frames.append(pd.DataFrame({
            "experiment_id": experiment_id,
            "promotion_id": promotion_id,
            "learner": learner,
            "share_targeted": grid,
            "customers_targeted": grid * n,
            "model_qini": np.interp(grid * n, x_model, q_model),
            "perfect_qini": np.interp(grid * n, x_best, q_best),
            # targeting at random: a straight line to the model's end point (the whole holdout)
            "random_qini": grid * q_model[-1],
            "holdout_exposures": int(n),
            "holdout_treated": int(t.sum()),
            "holdout_control": int(n - t.sum()),
        }))
    if not frames:
        return pd.DataFrame(columns=["experiment_id", "promotion_id", "learner", "share_targeted",
                                     "customers_targeted", "model_qini", "perfect_qini", "random_qini",
                                     "holdout_exposures", "holdout_treated", "holdout_control"])
    return pd.concat(frames, ignore_index=True)


def _export_column_order(targets: pd.DataFrame) -> pd.DataFrame:
    """The target list in the column order of ``retail-lift export-targets`` (export_target_list), by rank."""
    from retail_lift.campaign.targeting import TARGET_LIST_COLUMNS

    cols = [c for c in TARGET_LIST_COLUMNS if c in targets.columns]
    cols += sorted((c for c in targets.columns if c not in cols), key=str)
    return targets[cols].sort_values("rank", kind="mergesort", ignore_index=True)


SNAPSHOT_TABLES: tuple[SnapshotTable, ...] = (
    # ---------------------------------------------------------------- experiments
    SnapshotTable(
        "experiment_results", ("ml.ml_experiment_results",),
        "One row per experiment × variant × metric: effect, intervals, p-values and the verdict.",
        sql="select * from ml.ml_experiment_results order by experiment_id, metric_name, variant"),
    SnapshotTable(
        "experiment_decisions", ("ml.ml_experiment_decisions",),
        "One row per experiment × treatment variant: the pre-registered decision and its reason.",
        sql="select * from ml.ml_experiment_decisions order by experiment_id, variant"),
    SnapshotTable(
        "experiment_metrics", ("reference.experiment_metrics",),
        "The experiment metric definitions (seed experiment_metrics): label, type, measures, cap.",
        sql="select * from reference.experiment_metrics order by metric_name"),
    SnapshotTable(
        "experiment_srm", ("marts.fct_experiment_srm",),
        "One row per experiment × variant: observed and planned users (sample-ratio mismatch).",
        sql="select * from marts.fct_experiment_srm order by experiment_id, variant"),
    # ---------------------------------------------------------------- funnel, cohorts, RFM
    SnapshotTable(
        "funnel", ("marts.fct_product_funnel",),
        "One row per breakdown × value × day (NULL day: all time): product journeys view → cart → purchase.",
        sql="select * from marts.fct_product_funnel order by breakdown, breakdown_value, funnel_date nulls first"),
    SnapshotTable(
        "step_funnel", ("marts.fct_funnel",),
        "One row per breakdown × value × day (NULL day: all time) × step of var funnel_steps: sessions reaching it.",
        sql="select * from marts.fct_funnel "
            "order by breakdown, breakdown_value, funnel_date nulls first, step_number"),
    SnapshotTable(
        "cohort_retention", ("marts.rpt_cohort_retention",),
        "One row per cohort type × period grain × cohort × period number: retention.",
        sql="select * from marts.rpt_cohort_retention "
            "order by cohort_type, period_grain, cohort_start, period_number"),
    SnapshotTable(
        "rfm_segments", ("marts.rpt_rfm_segments",),
        "One row per RFM segment: customers, share, mean recency, frequency and spend.",
        sql="select * from marts.rpt_rfm_segments order by customers desc, segment"),
    SnapshotTable(
        "rfm_grid", ("marts.dim_customer_rfm",),
        "One row per recency score × frequency score cell: its segment and customers.",
        sql="select r_score, f_score, segment, count(*) as customers, avg(monetary) as avg_monetary "
            "from marts.dim_customer_rfm group by r_score, f_score, segment order by r_score, f_score"),
    # ---------------------------------------------------------------- uplift
    SnapshotTable(
        "uplift_segments", ("ml.ml_uplift_segments",),
        "One row per promotion arm × uplift segment (persuadables, sure things, lost causes, do-not-disturbs).",
        sql="select * from ml.ml_uplift_segments order by promotion_id, segment"),
    SnapshotTable(
        "uplift_metrics", ("ml.ml_uplift_metrics",),
        "One row per experiment × arm × learner × metric on the holdout (Qini AUC, uplift at k, status notes).",
        sql="select * from ml.ml_uplift_metrics order by experiment_id, promotion_id, learner, metric_name"),
    SnapshotTable(
        "uplift_incremental_roi", ("ml.ml_uplift_incremental_roi",),
        "One row per arm × targeting strategy × share targeted: expected incremental conversions and margin.",
        sql="select * from ml.ml_uplift_incremental_roi order by promotion_id, strategy, k_fraction"),
    SnapshotTable(
        "uplift_qini", ("ml.ml_uplift_holdout_predictions",),
        f"One row per arm × share targeted ({QINI_GRID_POINTS} points): the Qini curve of the out-of-fold "
        "predictions (retail_lift.uplift.qini_curve; learner: the folds' learners, e.g. t/x), the perfect curve "
        "and random targeting.",
        sql="select experiment_id, promotion_id, learner, is_treated, is_converted, predicted_uplift "
            "from ml.ml_uplift_holdout_predictions order by promotion_id, exposure_id",
        transform=_qini_curves),
    # ---------------------------------------------------------------- bandit
    SnapshotTable(
        "decision_arm_mix_daily", ("marts.fct_decision_ledger",),
        "One row per day × logging policy × arm: decisions made, settled, and converted.",
        sql="select cast(date_trunc('day', decided_at) as date) as decision_date, policy_id, promotion_id, "
            "count(*) as decisions, count(*) filter (where not is_pending) as settled_decisions, "
            "count(*) filter (where is_converted) as conversions "
            "from marts.fct_decision_ledger group by all order by decision_date, policy_id, promotion_id"),
    SnapshotTable(
        "bandit_policy_gate", ("marts.rpt_bandit_policy_gate",),
        "One row per policy the off-policy gate judged: estimate, interval, verdict, active version.",
        sql="select * from marts.rpt_bandit_policy_gate order by is_champion desc, policy_id"),
    SnapshotTable(
        "bandit_policy_evaluation", ("ml.ml_bandit_policy_evaluation",),
        "One row per policy × off-policy estimator: estimated conversion rate per decision with its interval.",
        sql="select * from ml.ml_bandit_policy_evaluation order by policy_id, estimator"),
    SnapshotTable(
        "bandit_holdout_arm_mix", ("marts.rpt_bandit_holdout_arm_mix",),
        "One row per policy × arm: the share of holdout decisions the policy would give the arm vs logged.",
        sql="select * from marts.rpt_bandit_holdout_arm_mix order by policy_id, promotion_id"),
    SnapshotTable(
        "bandit_published_policy", ("ml.ml_bandit_published_policy",),
        "One row per published policy version (without the serialised policy JSON).",
        sql="select * exclude (encoder_json, policy_json) from ml.ml_bandit_published_policy "
            "order by is_active desc, policy_id"),
    # ---------------------------------------------------------------- fairness, campaign
    SnapshotTable(
        "fairness", ("ml.ml_purchase_propensity_fairness",),
        "One row per protected attribute × group: selection rate, precision, TPR and the flagged gaps.",
        sql="select * from ml.ml_purchase_propensity_fairness order by attribute, group_value"),
    SnapshotTable(
        "campaign_targets", ("ml.ml_campaign_target_list",),
        "One row per selected customer of the campaign target list, by rank (what export-targets writes).",
        sql="select * exclude (status) from ml.ml_campaign_target_list where status = 'selected' order by rank",
        transform=_export_column_order),
    SnapshotTable(
        "campaign_target_summary", ("ml.ml_campaign_target_list",),
        "One row per selection status of the target list: customers, expected cost and profit.",
        sql="select status, count(*) as customers, sum(expected_cost) as expected_cost, "
            "sum(expected_profit) as expected_profit, min(rank) as best_rank "
            "from ml.ml_campaign_target_list group by status order by best_rank"),
    # ---------------------------------------------------------------- the promotion plan
    SnapshotTable(
        "plan_frontier", ("ml.ml_promotion_plan_frontier",),
        "One row per budget × promotion of the plan's efficient frontier: customers, expected incremental margin "
        "and cost per promotion, the budget's totals; is_plan_budget marks the plan's budget.",
        sql="select * from ml.ml_promotion_plan_frontier order by point, promotion_id"),
    SnapshotTable(
        "plan_promotions", ("ml.ml_promotion_plan_promotions",),
        "One row per promotion: in the plan or left out, and why.",
        sql="select * from ml.ml_promotion_plan_promotions order by promotion_id"),
    SnapshotTable(
        "plan_sample_customers", ("ml.ml_promotion_plan",),
        f"Up to {PLAN_SAMPLE_CUSTOMERS} planned customers per promotion of the stored plan (the largest expected "
        "incremental margin first) with their reasons: the dashboard's sample customers.",
        sql="select plan_id, planned_at, customer_id, promotion_id, channel, predicted_uplift, "
            "expected_incremental_margin, expected_cost, is_holdout, reasons from ("
            "select *, row_number() over (partition by promotion_id order by expected_incremental_margin desc, "
            "customer_id) as sample_rank from ml.ml_promotion_plan where promotion_id is not null) as planned "
            f"where sample_rank <= {PLAN_SAMPLE_CUSTOMERS} order by promotion_id, sample_rank"),
)


class SnapshotError(RuntimeError):
    """The snapshot could not be published (no warehouse, or the warehouse is held by a writer)."""


def _existing_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    return {f"{schema}.{name}".lower() for schema, name in rows}


def _sql_literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def build_info(run_results: str | Path | None) -> dict | None:
    """What the manifest records about the dbt build: from ``run_results.json`` when it exists."""
    if run_results is None:
        return None
    path = Path(run_results)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    meta = data.get("metadata", {})
    statuses: dict[str, int] = {}
    for result in data.get("results", []):
        status = str(result.get("status"))
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "run_results": str(path.resolve()),
        "dbt_version": meta.get("dbt_version"),
        "invocation_id": meta.get("invocation_id"),
        "generated_at": meta.get("generated_at"),
        "elapsed_seconds": data.get("elapsed_time"),
        "command": (data.get("args") or {}).get("which"),
        "results_by_status": dict(sorted(statuses.items())),
    }


def _entry(table: SnapshotTable, path: Path, rows: int) -> dict:
    return {
        "file": path.name,
        "rows": int(rows),
        "bytes": path.stat().st_size,
        "sources": list(table.sources),
        "description": table.description,
    }


def _prune(out_dir: Path, keep: set[str], stale_tmp_seconds: float = 3600.0) -> list[str]:
    """Remove snapshots other than ``keep`` and temporary folders left by a crashed publish."""
    removed = []
    now = time.time()
    for child in out_dir.iterdir():
        if child.name == CURRENT or child.is_symlink() or not child.is_dir() or child.name in keep:
            continue
        if child.name.startswith("."):
            if now - child.stat().st_mtime < stale_tmp_seconds:
                continue  # possibly a publish running right now
        elif not (child / MANIFEST).is_file():
            continue  # not ours
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child.name)
    return removed


def current_snapshot_dir(out_dir: str | Path) -> Path | None:
    """The folder ``out_dir/current`` points to, or None when nothing was published yet."""
    link = Path(out_dir) / CURRENT
    if not link.exists():
        return None
    return link.resolve()


def publish_snapshot(warehouse: str | Path, out_dir: str | Path, *, run_results: str | Path | None = None,
                     tables: tuple[SnapshotTable, ...] = SNAPSHOT_TABLES, keep_previous: bool = True,
                     log: Callable[[str], None] | None = None) -> dict:
    """Copy the dashboard's tables from ``warehouse`` into a new snapshot under ``out_dir``; return its manifest.

    The warehouse is opened read-only once and closed before the snapshot becomes visible. Raises
    :class:`SnapshotError` when the warehouse file does not exist or cannot be opened (for example
    while ``dbt build`` writes it).
    """
    log = log or (lambda _msg: None)
    warehouse = Path(warehouse)
    out_dir = Path(out_dir)
    if not warehouse.is_file():
        raise SnapshotError(f"no warehouse at {warehouse}: run the build first (make build)")
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    published_at = datetime.now(UTC)
    snapshot_id = published_at.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + uuid.uuid4().hex[:6]
    tmp_dir = out_dir / f".tmp-{snapshot_id}"
    tmp_dir.mkdir()
    entries: dict[str, dict] = {}
    missing: dict[str, str] = {}
    try:
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error as e:
            raise SnapshotError(f"cannot open the warehouse {warehouse} read-only ({e}); if a build is running, "
                                f"publish the snapshot after it ends") from None
        opened = time.perf_counter()
        fetched: dict[str, pd.DataFrame] = {}
        try:
            relations = _existing_relations(con)
            for table in tables:
                absent = [s for s in table.sources if s.lower() not in relations]
                if absent:
                    missing[table.name] = f"{', '.join(absent)} not in the warehouse"
                    continue
                path = tmp_dir / f"{table.name}.parquet"
                try:
                    if table.transform is None:
                        rows = con.execute(f"copy ({table.sql}) to {_sql_literal(path)} "
                                           f"(format parquet, compression zstd)").fetchone()[0]
                        entries[table.name] = _entry(table, path, rows)
                    else:
                        fetched[table.name] = con.execute(table.sql).df()
                except duckdb.Error as e:
                    # a source whose columns changed: the rest of the snapshot is still worth publishing
                    path.unlink(missing_ok=True)
                    missing[table.name] = f"could not be read from {', '.join(table.sources)}: {e}"
                    log(f"warning: snapshot table {table.name}: {missing[table.name]}")
        finally:
            con.close()
        held_seconds = time.perf_counter() - opened

        # computed tables: after the warehouse is closed
        for table in tables:
            if table.name in fetched:
                frame = table.transform(fetched.pop(table.name))
                path = tmp_dir / f"{table.name}.parquet"
                frame.to_parquet(path, index=False, compression="zstd")
                entries[table.name] = _entry(table, path, len(frame))
        entries = {t.name: entries[t.name] for t in tables if t.name in entries}

        manifest = {
            "format_version": SNAPSHOT_FORMAT_VERSION,
            "snapshot_id": snapshot_id,
            "published_at": published_at.isoformat(timespec="seconds"),
            "warehouse": str(warehouse.resolve()),
            "warehouse_modified_at": datetime.fromtimestamp(warehouse.stat().st_mtime, UTC).isoformat(
                timespec="seconds"),
            "build": build_info(run_results),
            "tables": entries,
            "missing": missing,
            "warehouse_open_seconds": round(held_seconds, 3),
        }
        manifest["publish_seconds"] = round(time.perf_counter() - started, 3)
        (tmp_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")

        final_dir = out_dir / snapshot_id
        os.replace(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise

    previous = current_snapshot_dir(out_dir)
    link_tmp = out_dir / f".current-{snapshot_id}"
    os.symlink(snapshot_id, link_tmp, target_is_directory=True)
    os.replace(link_tmp, out_dir / CURRENT)
    keep = {snapshot_id}
    if keep_previous and previous is not None:
        keep.add(previous.name)
    _prune(out_dir, keep)
    log(f"published snapshot {final_dir} ({len(entries)} tables, {sum(e['rows'] for e in entries.values()):,} rows"
        + (f"; missing: {', '.join(sorted(missing))}" if missing else "") + f") in {manifest['publish_seconds']:.1f}s")
    return manifest
