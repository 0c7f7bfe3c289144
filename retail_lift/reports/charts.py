"""Charts of the built warehouse for the dbt docs site (PNG, matplotlib's Agg renderer, no pyplot state).

One function per chart, each ``chart(warehouse, out_dir) -> ChartResult``: it opens the warehouse read-only for
as long as its query takes (:func:`retail_lift.warehouse.read_only`), aggregates in SQL (no large relation is
pulled into pandas), closes the connection, then draws and writes ``<out_dir>/<name>.png``.

================  =============================================  ===================================================
chart             reads                                          shows
================  =============================================  ===================================================
funnel            marts.fct_product_funnel (all-time rows)       journeys viewed → carted → purchased, and the view
                                                                 → purchase rate by device, channel, visitor type
cohort_heatmap    marts.rpt_cohort_retention                     weekly first-purchase cohorts × weeks since: the
                                                                 share of the cohort that ordered (complete weeks)
rfm_segments      marts.rpt_rfm_segments                         share of customers and of spend per RFM segment
calibration       ml.ml_*_fit holdout rows of the chosen models  observed rate vs mean predicted probability in ten
                                                                 equal-width bins (as ``predict.calibration_table``)
qini_curves       ml.ml_uplift_holdout_predictions               Qini curve of the selected learner per promotion on
                                                                 out-of-fold predictions (as ``uplift.qini_curve``)
bandit_arm_mix    marts.fct_decision_ledger,                     weekly share of each arm in the logged decisions;
                  marts.rpt_bandit_holdout_arm_mix               each candidate policy's expected arm mix on holdout
ab_lift           ml.ml_experiment_results                       relative lift with its 95 % interval per
                                                                 experiment × variant × metric, coloured by verdict
plan_frontier     evaluation.ml_eval_promotion_plan_vs_truth     true incremental margin of the plan, the ceiling
                                                                 and oracle plans and two baselines by budget
================  =============================================  ===================================================

A chart whose tables are missing or empty (e.g. a warehouse built from orders only has no decisions) is skipped:
its result carries the reason and no file; :func:`build_charts` prints it and goes on. The images depend only on
the warehouse's contents (rows are ordered in SQL, colours are fixed per name), so two runs on the same warehouse
write identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from retail_lift.warehouse import read_only

DEFAULT_OUT = Path("docs/assets/charts")
#: how the docs pages link a chart: relative to target/ (dbt copies the asset path docs/assets there)
DOCS_LINK_PREFIX = "docs/assets/charts"

_DPI = 100
_PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
            "#64b5cd"]
_VERDICT_COLOURS = {"ship": "#55a868", "do not ship": "#c44e52", "keep running": "#8c8c8c"}


@dataclass
class ChartResult:
    """A chart written (``path``) or skipped (``reason``)."""

    name: str
    title: str
    tables: tuple[str, ...]
    path: Path | None = None
    reason: str | None = None

    @property
    def written(self) -> bool:
        return self.path is not None

    @property
    def docs_link(self) -> str:
        """The image's link in a docs page (relative to target/, where static_index.html is)."""
        return f"{DOCS_LINK_PREFIX}/{self.name}.png"


class ChartSkipped(Exception):
    """The warehouse has no data for this chart; the message says why."""


# ---------------------------------------------------------------------------------------------- helpers
def _existing(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> set[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    present = {r[0] for r in rows}
    return {t for t in tables if t in present}


def _read(warehouse: str | Path, tables: tuple[str, ...], queries: dict[str, str],
          require_all: bool = True) -> dict[str, pd.DataFrame]:
    """Run ``queries`` on one short read-only connection; ChartSkipped when a table is missing.

    With ``require_all=False`` a query whose tables are missing returns an empty frame instead (the
    query's tables are the ``tables`` named in its text).
    """
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise ChartSkipped(f"no warehouse at {warehouse}")
    with read_only(warehouse) as con:
        present = _existing(con, tables)
        missing = [t for t in tables if t not in present]
        if missing and require_all:
            raise ChartSkipped(f"table {', '.join(missing)} not in the warehouse")
        frames = {}
        for key, sql in queries.items():
            if any(t in sql for t in missing):
                frames[key] = pd.DataFrame()
                continue
            try:
                frames[key] = con.execute(sql).df()
            except duckdb.Error as e:  # a column renamed by a newer model: say which query failed
                raise ChartSkipped(f"query {key!r} failed: {str(e).splitlines()[0]}") from None
    return frames


def _colours(names) -> dict[str, str]:
    """A fixed colour per name (sorted, so that the same names always get the same colours)."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(set(names)))}


def _save(fig: Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=_DPI, format="png", metadata={"Software": None})
    return path


def _new_figure(width: float, height: float, title: str) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig


# ---------------------------------------------------------------------------------------------- the charts
def funnel(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Journeys viewed → carted → purchased (all time), and the view → purchase rate per breakdown."""
    tables = ("marts.fct_product_funnel",)
    data = _read(warehouse, tables, {
        "overall": "select journeys_viewed, journeys_carted, journeys_purchased, view_to_cart_rate, "
                   "cart_to_purchase_rate, view_to_purchase_rate from marts.fct_product_funnel "
                   "where breakdown = 'overall' and funnel_date is null",
        "by": "select breakdown, breakdown_value, journeys_viewed, view_to_purchase_rate "
              "from marts.fct_product_funnel "
              "where breakdown in ('device', 'acquisition_channel', 'visitor_type') and funnel_date is null "
              "order by breakdown, view_to_purchase_rate desc, breakdown_value",
    })
    overall, by = data["overall"], data["by"]
    if overall.empty or not overall["journeys_viewed"].fillna(0).iloc[0]:
        raise ChartSkipped("fct_product_funnel has no viewed journeys (no product views)")
    row = overall.iloc[0]
    fig = _new_figure(12, 4.8, "Funnel: product journeys (visitor × product), all time")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.3])
    steps = ["viewed", "carted", "purchased"]
    values = [float(row[f"journeys_{s}"]) for s in steps]
    bars = ax1.bar(steps, values, color=[_PALETTE[0], _PALETTE[1], _PALETTE[2]])
    for bar, value in zip(bars, values, strict=True):
        ax1.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom",
                     fontsize=9)
    ax1.set_yscale("log")
    ax1.set_ylabel("journeys (log scale)")
    ax1.set_title(f"view→cart {row['view_to_cart_rate']:.1%}, cart→purchase {row['cart_to_purchase_rate']:.1%}",
                  fontsize=10)
    if by.empty:
        ax2.text(0.5, 0.5, "no breakdown rows", ha="center", va="center", transform=ax2.transAxes)
        ax2.set_axis_off()
    else:
        labels = [f"{b}: {v}" for b, v in zip(by["breakdown"], by["breakdown_value"], strict=True)]
        colours = _colours(by["breakdown"])
        y = np.arange(len(by))[::-1]
        ax2.barh(y, by["view_to_purchase_rate"].fillna(0), color=[colours[b] for b in by["breakdown"]])
        ax2.set_yticks(y, labels, fontsize=8)
        ax2.axvline(float(row["view_to_purchase_rate"]), color="black", linestyle="--", linewidth=1,
                    label=f"all journeys {row['view_to_purchase_rate']:.2%}")
        ax2.xaxis.set_major_formatter(lambda x, _pos: f"{x:.1%}")
        ax2.set_xlabel("view → purchase rate")
        ax2.legend(loc="lower right", fontsize=8)
    return _result("funnel", tables, _save(fig, Path(out_dir), "funnel"))


def cohort_heatmap(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Retention of weekly first-purchase cohorts (complete weeks only)."""
    tables = ("marts.rpt_cohort_retention",)
    data = _read(warehouse, tables, {
        "cohorts": "select cohort_start, period_number, cohort_size, retention_rate, is_complete_period "
                   "from marts.rpt_cohort_retention where cohort_type = 'first_purchase' and period_grain = 'week' "
                   "order by cohort_start, period_number",
    })
    cohorts = data["cohorts"]
    if cohorts.empty:
        raise ChartSkipped("rpt_cohort_retention has no first-purchase cohorts (no orders)")
    cohorts = cohorts[cohorts["is_complete_period"].fillna(False).astype(bool)]
    if cohorts.empty:
        raise ChartSkipped("no complete cohort week yet")
    grid = cohorts.pivot(index="cohort_start", columns="period_number", values="retention_rate").sort_index()
    sizes = cohorts.groupby("cohort_start")["cohort_size"].max().reindex(grid.index)
    fig = _new_figure(12, max(4.0, 0.28 * len(grid) + 1.8), "Cohorts: share of each weekly first-purchase "
                      "cohort that ordered again, by weeks since")
    ax = fig.subplots()
    shown = grid.drop(columns=[0], errors="ignore")  # week 0 is 100 % by definition
    if shown.empty:
        raise ChartSkipped("no cohort has a complete week after its first")
    image = ax.imshow(shown.to_numpy(dtype=float), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(shown.shape[1]), [str(c) for c in shown.columns], fontsize=8)
    ax.set_yticks(range(len(shown)), [f"{pd.Timestamp(d):%Y-%m-%d} (n={int(n):,})"
                                      for d, n in zip(shown.index, sizes, strict=True)], fontsize=7)
    ax.set_xlabel("weeks since the cohort's first purchase (blank: week not complete yet)")
    ax.set_ylabel("cohort (week of first purchase)")
    fig.colorbar(image, ax=ax, label="retention rate", format=lambda x, _pos: f"{x:.0%}")
    return _result("cohort_heatmap", tables, _save(fig, Path(out_dir), "cohort_heatmap"))


def rfm_segments(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Share of customers and share of spend per RFM segment."""
    tables = ("marts.rpt_rfm_segments",)
    data = _read(warehouse, tables, {
        "segments": "select segment, customers, customer_share, monetary_share, avg_recency_days, snapshot_date "
                    "from marts.rpt_rfm_segments order by monetary_share desc nulls last, segment",
    })
    seg = data["segments"]
    if seg.empty or not seg["customers"].fillna(0).sum():
        raise ChartSkipped("rpt_rfm_segments has no customers (no orders)")
    snapshot = seg["snapshot_date"].dropna()
    when = f" at {pd.Timestamp(snapshot.iloc[0]):%Y-%m-%d}" if len(snapshot) else ""
    fig = _new_figure(11, 0.45 * len(seg) + 2, f"RFM segments{when}: share of customers and of spend")
    ax = fig.subplots()
    y = np.arange(len(seg))[::-1]
    h = 0.4
    ax.barh(y + h / 2, seg["customer_share"].fillna(0), h, color=_PALETTE[0], label="share of customers")
    ax.barh(y - h / 2, seg["monetary_share"].fillna(0), h, color=_PALETTE[1], label="share of spend")
    ax.set_yticks(y, [f"{s} ({int(c):,})" for s, c in zip(seg["segment"], seg["customers"].fillna(0), strict=True)],
                  fontsize=9)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
    ax.legend(loc="lower right")
    return _result("rfm_segments", tables, _save(fig, Path(out_dir), "rfm_segments"))


#: the propensity fit tables and the label of their classifier
CALIBRATION_TABLES = {
    "ml.ml_purchase_propensity_fit": "purchase_propensity",
    "ml.ml_returning_customer_fit": "returning_customer",
    "ml.ml_facebook_acquisition_fit": "facebook_acquisition",
    "ml.ml_category_propensity_fit": "category_propensity",
}
CALIBRATION_BINS = 10


def calibration_bins_sql(table: str, n_bins: int = CALIBRATION_BINS) -> str:
    """Equal-width reliability bins of a fit table's holdout rows of the chosen model, in SQL.

    Same bins as :func:`retail_lift.predict.calibration_table` (bin ``b`` holds ``floor(p * n_bins) == b``,
    ``p = 1`` in the last bin); one row per non-empty bin.
    """
    return (f"select '{CALIBRATION_TABLES.get(table, table)}' as classifier, any_value(model) as model, "
            f"least(cast(floor(probability * {n_bins}) as integer), {n_bins - 1}) as bin, count(*) as n, "
            f"avg(probability) as mean_predicted, avg(label) as observed_rate from {table} "
            f"where record_type = 'holdout' and is_chosen_model and probability is not null and label is not null "
            f"group by all order by bin")


def ece_of_bins(bins: pd.DataFrame) -> float:
    """ECE of a reliability table (one classifier's bins): sum_b n_b / N * |observed_b - predicted_b|; the same
    value as :func:`retail_lift.predict.expected_calibration_error` on the rows behind the bins."""
    return float((bins["n"] * (bins["observed_rate"] - bins["mean_predicted"]).abs()).sum() / bins["n"].sum())


def calibration(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Reliability diagram of each trained propensity classifier (chosen model, its holdout rows: the out-of-time
    test snapshot, or the random customer holdout when a classifier fell back to it)."""
    tables = tuple(CALIBRATION_TABLES)
    data = _read(warehouse, tables, {t: calibration_bins_sql(t) for t in tables}, require_all=False)
    frames = {t: f for t, f in data.items() if not f.empty}
    if not frames:
        raise ChartSkipped("no propensity fit table with holdout rows (models skipped or not built)")
    fig = _new_figure(11, 5.2, "Calibration of the propensity models (out-of-time test snapshot, chosen model)")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.3, 1])
    ax1.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfectly calibrated")
    colours = _colours([CALIBRATION_TABLES[t] for t in frames])
    for table, bins in frames.items():
        name = CALIBRATION_TABLES[table]
        ece = ece_of_bins(bins)
        ax1.plot(bins["mean_predicted"], bins["observed_rate"], marker="o", color=colours[name],
                 label=f"{name} ({bins['model'].iloc[0]}), ECE {ece:.3f}")
        ax2.plot((bins["bin"] + 0.5) / CALIBRATION_BINS, bins["n"], marker="o", color=colours[name], label=name)
    ax1.set_xlim(0, 1)
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("mean predicted probability (bin)")
    ax1.set_ylabel("observed rate")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.set_yscale("log")
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("predicted probability (bin centre)")
    ax2.set_ylabel("holdout rows in bin (log scale)")
    ax2.set_title("rows per bin", fontsize=10)
    return _result("calibration", tables, _save(fig, Path(out_dir), "calibration"))


QINI_INPUT_SQL = """
select promotion_id, learner, cast(is_converted as integer) as y, predicted_uplift, cast(is_treated as integer) as t
from ml.ml_uplift_holdout_predictions
where predicted_uplift is not null and is_treated is not null and is_converted is not null
order by promotion_id, learner
"""


def _qini_points(predictions: pd.DataFrame) -> pd.DataFrame:
    """Qini curve points per promotion with :func:`retail_lift.uplift.qini_curve` (origin dropped): one curve of all
    its out-of-fold predictions (each fold's learner was chosen on the other folds, so folds may use different
    learners; ``learner`` lists them, e.g. ``t/x``)."""
    from retail_lift.uplift import qini_curve

    parts = []
    for promotion, group in predictions.groupby("promotion_id", sort=True):
        learner = "/".join(sorted(group["learner"].dropna().astype(str).unique()))
        x, q = qini_curve(group["y"].to_numpy(), group["predicted_uplift"].to_numpy(), group["t"].to_numpy())
        parts.append(pd.DataFrame({"promotion_id": promotion, "learner": learner,
                                   "n_targeted": np.asarray(x[1:], dtype=float), "qini": q[1:]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["promotion_id", "learner", "n_targeted", "qini"])


def qini_points(warehouse: str | Path) -> pd.DataFrame:
    """The Qini curve points of every promotion × learner of ml_uplift_holdout_predictions (no origin row)."""
    return _qini_points(_read(warehouse, ("ml.ml_uplift_holdout_predictions",), {"qini": QINI_INPUT_SQL})["qini"])


def qini_curves(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Qini curve of each promotion's uplift model on out-of-fold predictions of every participant, with the random
    baseline."""
    tables = ("ml.ml_uplift_holdout_predictions", "ml.ml_uplift_metrics")
    data = _read(warehouse, tables, {
        "qini": QINI_INPUT_SQL,
        "auc": "select promotion_id, metric_value as qini_auc from ml.ml_uplift_metrics "
               "where metric_name = 'qini_auc' and is_selected_learner order by promotion_id",
    }, require_all=False)
    points = _qini_points(data["qini"]) if not data["qini"].empty else data["qini"]
    if points.empty:
        raise ChartSkipped("ml_uplift_holdout_predictions has no rows (no experiment with a holdout)")
    auc = {r.promotion_id: r.qini_auc for r in data["auc"].itertuples()} if not data["auc"].empty else {}
    groups = list(points.groupby(["promotion_id", "learner"], sort=True))
    cols = min(3, len(groups))
    rows = -(-len(groups) // cols)
    fig = _new_figure(4.2 * cols, 3.4 * rows + 0.6, "Qini curves of the uplift models (out-of-fold predictions)")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, ((promotion, learner), curve) in zip(axes, groups, strict=False):
        x = np.r_[0.0, curve["n_targeted"].to_numpy()]
        y = np.r_[0.0, curve["qini"].to_numpy(dtype=float)]
        share = x / x[-1]
        ax.plot(share, y, color=_PALETTE[0], label=f"{learner}-learner")
        ax.plot([0, 1], [0, y[-1]], color="black", linestyle="--", linewidth=1, label="random targeting")
        ax.axhline(0, color="#cccccc", linewidth=0.8)
        score = auc.get(promotion)
        ax.set_title(f"{promotion}" + (f" (Qini AUC {score:.3f})" if score is not None else ""), fontsize=9)
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.set_xlabel(f"share targeted (of {int(x[-1]):,} holdout exposures)", fontsize=8)
        ax.set_ylabel("incremental conversions", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(groups):]:
        ax.set_axis_off()
    return _result("qini_curves", tables, _save(fig, Path(out_dir), "qini_curves"))


def bandit_arm_mix(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Weekly arm mix of the logged decisions, and each candidate policy's expected arm mix on the holdout."""
    tables = ("marts.fct_decision_ledger", "marts.rpt_bandit_holdout_arm_mix")
    data = _read(warehouse, tables, {
        "weekly": "select cast(date_trunc('week', decided_at) as date) as week, promotion_id, count(*) as decisions "
                  "from marts.fct_decision_ledger where decided_at is not null group by all order by week, "
                  "promotion_id",
        "holdout": "select policy_id, promotion_id, expected_share, logged_share from marts.rpt_bandit_holdout_arm_mix "
                   "order by policy_id, promotion_id",
    }, require_all=False)
    weekly, holdout = data["weekly"], data["holdout"]
    if weekly.empty:
        raise ChartSkipped("fct_decision_ledger has no decisions")
    arms = sorted(set(weekly["promotion_id"]) | set(holdout.get("promotion_id", pd.Series(dtype=str))))
    colours = _colours(arms)
    fig = _new_figure(13, 5, "Bandit arm mix: logged decisions by week, and the candidate policies on the holdout")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.5, 1])
    shares = weekly.pivot(index="week", columns="promotion_id", values="decisions").fillna(0).reindex(columns=arms,
                                                                                                     fill_value=0)
    totals = shares.sum(axis=1)
    shares = shares.div(totals, axis=0)
    weeks = [pd.Timestamp(w).to_pydatetime() for w in shares.index]
    ax1.stackplot(weeks, *[shares[a].to_numpy() for a in arms], labels=arms, colors=[colours[a] for a in arms])
    ax1.set_ylim(0, 1)
    ax1.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax1.set_ylabel("share of the week's decisions")
    ax1.set_title(f"logged decisions ({int(totals.sum()):,}, weeks starting Monday)", fontsize=10)
    ax1.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    if holdout.empty:
        ax2.text(0.5, 0.5, "no candidate policies evaluated\n(too few settled decisions)", ha="center", va="center",
                 transform=ax2.transAxes)
        ax2.set_axis_off()
    else:
        logged = holdout.groupby("promotion_id")["logged_share"].first().reindex(arms).fillna(0)
        mix = holdout.pivot(index="policy_id", columns="promotion_id", values="expected_share").reindex(
            columns=arms).fillna(0)
        mix.loc["(logged)"] = logged
        names = list(mix.index)
        left = np.zeros(len(names))
        for arm in arms:
            ax2.barh(names, mix[arm].to_numpy(), left=left, color=colours[arm], label=arm)
            left += mix[arm].to_numpy()
        ax2.invert_yaxis()
        ax2.set_xlim(0, 1)
        ax2.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax2.set_title("expected arm mix on the holdout decisions", fontsize=10)
        ax2.tick_params(axis="y", labelsize=8)
    return _result("bandit_arm_mix", tables, _save(fig, Path(out_dir), "bandit_arm_mix"))


def ab_lift(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """Relative lift and its 95 % interval per experiment × variant × metric, coloured by the verdict."""
    tables = ("ml.ml_experiment_results",)
    data = _read(warehouse, tables, {
        "results": "select experiment_id, variant, metric_name, relative_lift, relative_lift_ci_low, "
                   "relative_lift_ci_high, decision, is_srm from ml.ml_experiment_results "
                   "where relative_lift is not null order by experiment_id, metric_name, variant",
    })
    res = data["results"]
    if res.empty:
        raise ChartSkipped("ml_experiment_results has no rows (no experiment with closed attribution windows)")
    fig = _new_figure(11, 0.38 * len(res) + 2.0, "A/B tests: relative lift against control with 95 % intervals")
    ax = fig.subplots()
    y = np.arange(len(res))[::-1]
    for yi, r in zip(y, res.itertuples(), strict=True):
        colour = _VERDICT_COLOURS.get(r.decision, _PALETTE[0])
        low = r.relative_lift_ci_low if pd.notna(r.relative_lift_ci_low) else r.relative_lift
        high = r.relative_lift_ci_high if pd.notna(r.relative_lift_ci_high) else r.relative_lift
        ax.plot([low, high], [yi, yi], color=colour, linewidth=2)
        ax.plot([r.relative_lift], [yi], marker="o", color=colour)
    labels = [f"{r.experiment_id} · {r.variant} · {r.metric_name}" + (" (SRM!)" if r.is_srm else "")
              for r in res.itertuples()]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=1)
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:+.0%}")
    ax.set_xlabel("relative lift (variant / control − 1); the dot is the estimate, the bar its 95 % interval")
    for verdict, colour in _VERDICT_COLOURS.items():
        ax.plot([], [], color=colour, linewidth=2, marker="o", label=f"verdict: {verdict}")
    ax.legend(loc="lower right", fontsize=8)
    return _result("ab_lift", tables, _save(fig, Path(out_dir), "ab_lift"))


#: the policies of ml_eval_promotion_plan_vs_truth, in the legend's order, with a fixed colour and line style
_PLAN_POLICIES = {"oracle_plan": ("#8c8c8c", ":"), "ceiling_plan": ("#55a868", "--"), "plan": ("#4c72b0", "-"),
                  "best_single_promotion": ("#dd8452", "-."), "propensity": ("#c44e52", "-.")}


def plan_frontier(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT) -> ChartResult:
    """The efficient frontier of the promotion plan on the simulated world: the TRUE incremental margin of each
    policy of ``ml_eval_promotion_plan_vs_truth`` against the budget (a share of the unbudgeted plan's expected
    cost, log scale; the row without a budget at 1)."""
    tables = ("evaluation.ml_eval_promotion_plan_vs_truth",)
    data = _read(warehouse, tables, {
        "eval": "select coalesce(budget_share, 1.0) as budget_share, budget_share is null as is_unbudgeted, policy, "
                "true_incremental_margin, customers_targeted from evaluation.ml_eval_promotion_plan_vs_truth "
                "order by policy, budget_share nulls last",
    })
    ev = data["eval"]
    if ev.empty:
        raise ChartSkipped("ml_eval_promotion_plan_vs_truth has no rows (no simulated truth, or nothing to plan)")
    fig = _new_figure(9, 5.2, "Promotion plan against the truth: true incremental margin by budget")
    ax = fig.subplots()
    for policy, (colour, style) in _PLAN_POLICIES.items():
        g = ev[ev["policy"] == policy]
        if g.empty:
            continue
        ax.plot(g["budget_share"], g["true_incremental_margin"], color=colour, linestyle=style, marker="o",
                markersize=4, label=policy.replace("_", " "))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.1%}" if v < 0.01 else f"{v:.0%}")
    ax.axhline(0, color="#cccccc", linewidth=0.8)
    ax.set_xlabel("budget, as a share of the expected cost of the plan without a budget (100 %: no budget)")
    ax.set_ylabel("true incremental margin")
    ax.legend(fontsize=8, loc="upper left")
    return _result("plan_frontier", tables, _save(fig, Path(out_dir), "plan_frontier"))


# ---------------------------------------------------------------------------------------------- registry
CHARTS: dict[str, tuple[str, Callable[..., ChartResult]]] = {
    "funnel": ("Funnel", funnel),
    "cohort_heatmap": ("Cohort retention heatmap", cohort_heatmap),
    "rfm_segments": ("RFM segments", rfm_segments),
    "calibration": ("Calibration of the propensity models", calibration),
    "qini_curves": ("Qini curves of the uplift models", qini_curves),
    "bandit_arm_mix": ("Bandit arm mix over time", bandit_arm_mix),
    "ab_lift": ("A/B test lift intervals", ab_lift),
    "plan_frontier": ("Promotion plan against the truth by budget", plan_frontier),
}

#: the tables each chart reads (the docs exposure in models/_exposures.yml lists them)
CHART_TABLES: dict[str, tuple[str, ...]] = {
    "funnel": ("marts.fct_product_funnel",),
    "cohort_heatmap": ("marts.rpt_cohort_retention",),
    "rfm_segments": ("marts.rpt_rfm_segments",),
    "calibration": tuple(CALIBRATION_TABLES),
    "qini_curves": ("ml.ml_uplift_holdout_predictions", "ml.ml_uplift_metrics"),
    "bandit_arm_mix": ("marts.fct_decision_ledger", "marts.rpt_bandit_holdout_arm_mix"),
    "ab_lift": ("ml.ml_experiment_results",),
    "plan_frontier": ("evaluation.ml_eval_promotion_plan_vs_truth",),
}


def _result(name: str, tables: tuple[str, ...], path: Path) -> ChartResult:
    return ChartResult(name=name, title=CHARTS[name][0], tables=tables, path=path)


def build_charts(warehouse: str | Path, out_dir: str | Path = DEFAULT_OUT, names: list[str] | None = None,
                 log: Callable[[str], None] = print) -> list[ChartResult]:
    """Write every chart (or ``names``) to ``out_dir``; skipped charts are logged with their reason.

    A chart that was skipped leaves no stale file behind: an older PNG of that name is removed, so the docs
    never show a chart of another build.
    """
    out_dir = Path(out_dir)
    results = []
    for name in names or list(CHARTS):
        title, function = CHARTS[name]
        try:
            result = function(warehouse, out_dir)
            log(f"chart {name}: wrote {result.path}")
        except ChartSkipped as e:
            result = ChartResult(name=name, title=title, tables=CHART_TABLES[name], reason=str(e))
            stale = out_dir / f"{name}.png"
            if stale.exists():
                stale.unlink()
            log(f"chart {name}: skipped ({e})")
        results.append(result)
    return results
