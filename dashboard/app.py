"""Retail Lift dashboard (Streamlit): ``make dashboard`` or ``retail-lift dashboard``.

It reads only the read-only snapshot that ``make build`` publishes (``retail-lift publish-snapshot``,
default ``warehouse/snapshot``, or ``RETAIL_LIFT_SNAPSHOT``), never the DuckDB warehouse, so a
running dashboard cannot block the next ``dbt build``. A newly published snapshot is picked up on
the next page load. Every number shown comes from a snapshot table; a table that the build did not
produce (e.g. orders-only data has no funnel) is replaced by a message saying why.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from retail_lift.dashboard.data import (
    Snapshot,
    SnapshotNotFoundError,
    arm_mix_shares,
    experiment_overview,
    frontier_points,
    open_snapshot,
    plan_mix,
    plan_point,
    target_list_csv,
)

st.set_page_config(page_title="Retail Lift", layout="wide")


@st.cache_data(show_spinner=False, max_entries=64)
def _read(path: str, file: str) -> pd.DataFrame:
    # snapshot folders are immutable and uniquely named, so (folder, file) is a safe cache key
    return pd.read_parquet(f"{path}/{file}")


def table(snap: Snapshot, name: str, quiet: bool = False) -> pd.DataFrame | None:
    """The snapshot table, or None after showing why it is not there (silently for a secondary table)."""
    entry = snap.tables.get(name)
    if entry is None:
        if not quiet:
            st.info(snap.missing_reason(name))
        return None
    return _read(str(snap.path), entry["file"])


def chart(c: alt.Chart) -> None:
    st.altair_chart(c, width="stretch")


def frame(df: pd.DataFrame, **kwargs) -> None:
    st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def pct(x) -> str:
    return "n/a" if pd.isna(x) else f"{x:.1%}"


# ---------------------------------------------------------------------------------------------- header

st.title("Retail Lift")
try:
    snap = open_snapshot()
except SnapshotNotFoundError as e:
    st.error(str(e))
    st.stop()

m = snap.manifest
build = m.get("build") or {}
build_text = ""
if build:
    statuses = ", ".join(f"{v} {k}" for k, v in (build.get("results_by_status") or {}).items())
    build_text = f" · dbt {build.get('command') or 'build'} at {(build.get('generated_at') or '?')[:19]}Z ({statuses})"
st.caption(f"Snapshot {snap.snapshot_id} published {m['published_at']}{build_text} · "
           "a read-only copy of the warehouse; the dashboard never opens the warehouse itself.")

with st.sidebar:
    st.subheader("Snapshot")
    frame(pd.DataFrame([{"table": k, "rows": v["rows"]} for k, v in snap.tables.items()]))
    if m.get("missing"):
        st.subheader("Not in this snapshot")
        for name, reason in m["missing"].items():
            st.caption(f"**{name}**: {reason}")

tabs = st.tabs(["Experiments", "Funnel", "Cohorts", "RFM segments", "Uplift", "Bandit", "Fairness",
                "Campaign targets", "Promotion plan"])

# ---------------------------------------------------------------------------------------------- experiments

with tabs[0]:
    st.header("Experiment results")
    results = table(snap, "experiment_results")
    decisions = table(snap, "experiment_decisions", quiet=True)
    if results is not None and results.empty:
        st.info("The experiment engine produced no results (no experiment has a closed attribution window yet).")
    elif results is not None:
        overview = experiment_overview(results)
        c1, c2, c3 = st.columns(3)
        c1.metric("Experiments", len(overview))
        ships = decisions if decisions is not None else results
        c2.metric("Ship decisions", int((ships["decision"] == "ship").sum()))
        c3.metric("Sample-ratio mismatches", int(overview["is_srm"].sum()))
        if decisions is not None:
            # the decision a team acts on: one per experiment x variant, its reason beside it
            st.subheader("Decisions: one per experiment × variant")
            dcols = ["experiment_id", "variant", "decision", "decision_reason", "primary_metric", "analysis_mode",
                     "is_final", "as_of", "control_users", "variant_users", "planned_users_per_arm",
                     "open_window_users", "windows_close_at"]
            frame(decisions[[c for c in dcols if c in decisions.columns]], key="experiment_decisions")
        else:
            frame(overview)
        experiment = st.selectbox("Experiment", overview["experiment_id"].tolist(), key="experiment")
        sub = results[results["experiment_id"] == experiment].copy()
        metric_defs = table(snap, "experiment_metrics", quiet=True)
        if metric_defs is not None:  # the definitions file's labels and sentences (seed experiment_metrics)
            labels = dict(zip(metric_defs["metric_name"], metric_defs["label"], strict=True))
            sub["metric_name"] = sub["metric_name"].map(lambda m: labels.get(m, m))
        if decisions is not None:
            for r in decisions[decisions["experiment_id"] == experiment].itertuples():
                st.markdown(f"**{r.variant}: {r.decision}**. {r.decision_reason}")
        st.subheader(f"{experiment}: relative lift vs {sub['control_variant'].iloc[0]} (95 % interval)")
        base = alt.Chart(sub)
        lift = alt.layer(
            base.mark_rule(strokeWidth=2).encode(
                x=alt.X("relative_lift_ci_low:Q", title="relative lift", axis=alt.Axis(format="%")),
                x2="relative_lift_ci_high:Q", y=alt.Y("variant:N", title=None, axis=alt.Axis(labelLimit=220)),
                color="decision:N"),
            base.mark_point(filled=True, size=80).encode(
                x="relative_lift:Q", y="variant:N", color=alt.Color("decision:N", title="per-metric verdict"),
                tooltip=["variant", "metric_name", alt.Tooltip("relative_lift:Q", format=".1%"),
                         alt.Tooltip("relative_lift_ci_low:Q", format=".1%"),
                         alt.Tooltip("relative_lift_ci_high:Q", format=".1%"),
                         alt.Tooltip("p_value_adjusted:Q", format=".3f"), "decision"]),
            base.mark_rule(strokeDash=[4, 4], color="gray").encode(x=alt.datum(0)),
        ).properties(height=70).facet(row=alt.Row("metric_name:N", title=None))
        chart(lift)
        st.caption("Evidence: every metric's test for this experiment (ml_experiment_results); the decision above "
                   "reads the primary metric and the guardrails as declared in the registry.")
        cols = ["variant", "metric_name", "control_users", "variant_users", "control_mean", "variant_mean", "effect",
                "effect_ci_low", "effect_ci_high", "relative_lift", "relative_lift_ci_low", "relative_lift_ci_high",
                "p_value_adjusted", "sequential_p_value", "prob_beat_control", "is_srm", "decision",
                "decision_reason"]
        frame(sub[[c for c in cols if c in sub.columns]], key="experiment_verdicts")
        if metric_defs is not None:
            with st.expander("Metric definitions (seeds/experiment_metrics.csv)"):
                frame(metric_defs[[c for c in ["label", "metric_type", "numerator", "denominator", "covariate",
                                               "winsorize_percentile", "description"] if c in metric_defs.columns]])
        srm = table(snap, "experiment_srm", quiet=True)
        if srm is not None:
            st.caption("Users per variant against the planned split (sample-ratio mismatch check)")
            frame(srm[srm["experiment_id"] == experiment])

# ---------------------------------------------------------------------------------------------- funnel

with tabs[1]:
    st.header("Funnel: view → cart → purchase")
    st.caption("Product journeys (visitor × product, marts.fct_product_funnel); below, the session funnel of "
               "var funnel_steps (marts.fct_funnel).")
    funnel = table(snap, "funnel")
    if funnel is not None and funnel.empty:
        st.info("The funnel table is empty (no product views in the data).")
    elif funnel is not None:
        all_time = funnel[funnel["funnel_date"].isna()]
        overall = all_time[all_time["breakdown"] == "overall"]
        if not overall.empty:
            row = overall.iloc[0]
            c1, c2, c3, c4 = st.columns(4)
            c1.metric("Journeys viewed", f"{int(row['journeys_viewed']):,}")
            c2.metric("View → cart", pct(row["view_to_cart_rate"]))
            c3.metric("Cart → purchase", pct(row["cart_to_purchase_rate"]))
            c4.metric("View → purchase", pct(row["view_to_purchase_rate"]))
        breakdowns = sorted(all_time["breakdown"].unique().tolist())
        breakdown = st.selectbox("Breakdown", breakdowns,
                                 index=breakdowns.index("device") if "device" in breakdowns else 0, key="funnel_by")
        rows = all_time[all_time["breakdown"] == breakdown]
        steps = rows.melt(id_vars=["breakdown_value"],
                          value_vars=["journeys_viewed", "journeys_carted", "journeys_purchased"],
                          var_name="step", value_name="journeys")
        steps["step"] = steps["step"].str.replace("journeys_", "", regex=False)
        chart(alt.Chart(steps).mark_bar().encode(
            x=alt.X("step:N", sort=["viewed", "carted", "purchased"], title=None),
            xOffset=alt.XOffset("breakdown_value:N"),
            y=alt.Y("journeys:Q", title="journeys (visitor × product)"),
            color=alt.Color("breakdown_value:N", title=breakdown),
            tooltip=["breakdown_value", "step", "journeys"]).properties(height=320))
        frame(rows.drop(columns=["funnel_date"]))
        daily = funnel[(funnel["breakdown"] == "overall") & funnel["funnel_date"].notna()].copy()
        if "is_window_complete" in daily.columns:
            daily = daily[daily["is_window_complete"].astype(bool)]
        if not daily.empty:
            daily["funnel_date"] = pd.to_datetime(daily["funnel_date"])
            rates = daily.melt(id_vars=["funnel_date"], value_vars=["view_to_cart_rate", "view_to_purchase_rate"],
                               var_name="rate", value_name="value")
            st.subheader("Daily conversion (days whose stitching windows are complete)")
            chart(alt.Chart(rates).mark_line().encode(
                x=alt.X("funnel_date:T", title=None), y=alt.Y("value:Q", axis=alt.Axis(format="%"), title=None),
                color="rate:N", tooltip=["funnel_date:T", "rate", alt.Tooltip("value:Q", format=".2%")]
            ).properties(height=260))
    # the configurable step funnel of sessions (marts.fct_funnel, var funnel_steps); quiet when absent
    step_funnel = table(snap, "step_funnel", quiet=True)
    if step_funnel is not None and not step_funnel.empty:
        session_steps = step_funnel[step_funnel["funnel_date"].isna() & (step_funnel["breakdown"] == "overall")]
        session_steps = session_steps.sort_values("step_number")
        if not session_steps.empty:
            st.subheader("Session funnel (steps of var funnel_steps, all time)")
            session_steps = session_steps.assign(label=session_steps["step_number"].astype(str) + ". "
                                                 + session_steps["step"])
            chart(alt.Chart(session_steps).mark_bar().encode(
                x=alt.X("label:N", sort=session_steps["label"].tolist(), title=None),
                y=alt.Y("sessions_reached:Q", title="sessions reaching the step"),
                tooltip=["step_number", "step", "sessions_reached",
                         alt.Tooltip("conversion_from_previous:Q", format=".1%"),
                         alt.Tooltip("conversion_from_first:Q", format=".1%")]).properties(height=280))
            frame(session_steps[["step_number", "step", "sessions", "sessions_reached", "sessions_dropped",
                                 "conversion_from_previous", "conversion_from_first"]], key="session_funnel")

# ---------------------------------------------------------------------------------------------- cohorts

with tabs[2]:
    st.header("Cohort retention")
    cohorts = table(snap, "cohort_retention")
    if cohorts is not None and not cohorts.empty:
        c1, c2 = st.columns(2)
        kinds = sorted(cohorts["cohort_type"].unique().tolist())
        kind = c1.radio("Cohorts", kinds, horizontal=True, key="cohort_type",
                        index=kinds.index("first_purchase") if "first_purchase" in kinds else 0)
        grains = sorted(cohorts["period_grain"].unique().tolist())
        grain = c2.radio("Period", grains, horizontal=True, key="cohort_grain",
                         index=grains.index("month") if "month" in grains else 0)
        sub = cohorts[(cohorts["cohort_type"] == kind) & (cohorts["period_grain"] == grain)].copy()
        sub["cohort"] = pd.to_datetime(sub["cohort_start"]).dt.strftime("%Y-%m-%d")
        base = alt.Chart(sub).encode(
            x=alt.X("period_number:O", title=f"{grain}s since the cohort's first", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("cohort:O", title="cohort"))
        heat = base.mark_rect().encode(
            color=alt.Color("retention_rate:Q", title="retention", scale=alt.Scale(scheme="blues")),
            opacity=alt.condition("datum.is_complete_period", alt.value(1.0), alt.value(0.45)),
            tooltip=["cohort", "period_number", "cohort_size", "active",
                     alt.Tooltip("retention_rate:Q", format=".1%"), "is_complete_period"])
        if len(sub) <= 400:  # label the cells while they are big enough to read
            heat = heat + base.mark_text(fontSize=10).encode(
                text=alt.Text("retention_rate:Q", format=".0%"),
                color=alt.condition("datum.retention_rate > 0.5", alt.value("white"), alt.value("black")))
        st.caption("Faded cells: the period was still running at the end of the data.")
        chart(heat.properties(height=80 + 24 * sub["cohort"].nunique()))
    elif cohorts is not None:
        st.info("The cohort table is empty.")

# ---------------------------------------------------------------------------------------------- RFM

with tabs[3]:
    st.header("RFM segments")
    rfm = table(snap, "rfm_segments")
    if rfm is not None and int(rfm["customers"].sum()) == 0:
        st.info("No customer has an order on or before the RFM snapshot date.")
    elif rfm is not None:
        c1, c2 = st.columns(2)
        c1.metric("Customers with orders", f"{int(rfm['customers'].sum()):,}")
        if "snapshot_date" in rfm.columns and rfm["snapshot_date"].notna().any():
            c2.metric("Measured at", str(pd.to_datetime(rfm["snapshot_date"].dropna().iloc[0]).date()))
        chart(alt.Chart(rfm).mark_bar().encode(
            x=alt.X("customers:Q"), y=alt.Y("segment:N", sort="-x", title=None),
            color=alt.Color("monetary_share:Q", title="share of spend", scale=alt.Scale(scheme="greens")),
            tooltip=["segment", "customers", alt.Tooltip("customer_share:Q", format=".1%"),
                     alt.Tooltip("monetary_share:Q", format=".1%"), alt.Tooltip("avg_recency_days:Q", format=".1f"),
                     alt.Tooltip("avg_frequency:Q", format=".2f"), alt.Tooltip("avg_monetary:Q", format=",.2f")]
        ).properties(height=300))
        frame(rfm)
    grid = table(snap, "rfm_grid")
    if grid is not None and not grid.empty:
        st.subheader("Recency × frequency grid")
        base = alt.Chart(grid).encode(x=alt.X("f_score:O", title="frequency score (5 = most orders)"),
                                      y=alt.Y("r_score:O", sort="descending", title="recency score (5 = most recent)"))
        chart((base.mark_rect().encode(color=alt.Color("segment:N"),
                                       tooltip=["segment", "r_score", "f_score", "customers"])
               + base.mark_text(color="black").encode(text="customers:Q")).properties(height=300))

# ---------------------------------------------------------------------------------------------- uplift

with tabs[4]:
    st.header("Uplift: Qini curves and persuadables")
    qini = table(snap, "uplift_qini")
    metrics = table(snap, "uplift_metrics", quiet=True)
    if metrics is not None and "learner" in metrics.columns:
        for _, r in metrics[metrics["learner"] == "none"].drop_duplicates(["promotion_id"]).iterrows():
            st.warning(f"{r['promotion_id']} ({r['experiment_id']}) not modelled: {r.get('note')}")
    if qini is not None and qini.empty:
        st.info("No arm was modelled, so there is no Qini curve.")
    elif qini is not None:
        arms = sorted(qini["promotion_id"].unique().tolist())
        arm = st.selectbox("Promotion arm", arms, key="uplift_arm")
        curve = qini[qini["promotion_id"] == arm]
        learner = curve["learner"].iloc[0]
        c1, c2, c3 = st.columns(3)
        c1.metric("Holdout exposures", f"{int(curve['holdout_exposures'].iloc[0]):,}")
        c2.metric("Kept learner", f"{learner}-learner")
        if metrics is not None:
            auc = metrics[(metrics["promotion_id"] == arm) & (metrics["learner"] == learner)
                          & (metrics["metric_name"] == "qini_auc")]["metric_value"]
            c3.metric("Qini AUC (holdout)", "n/a" if auc.empty or pd.isna(auc.iloc[0]) else f"{auc.iloc[0]:.3f}")
        long = curve.melt(id_vars=["share_targeted"], value_vars=["model_qini", "perfect_qini", "random_qini"],
                          var_name="curve", value_name="incremental_conversions")
        names = {"model_qini": f"model ({learner}-learner)", "perfect_qini": "perfect", "random_qini": "random"}
        long["curve"] = long["curve"].map(names)
        domain = list(names.values())
        st.subheader(f"Qini curve of {arm} on the holdout")
        chart(alt.Chart(long).mark_line().encode(
            x=alt.X("share_targeted:Q", axis=alt.Axis(format="%"),
                    title="share of holdout targeted, by predicted uplift"),
            y=alt.Y("incremental_conversions:Q", title="incremental conversions (Qini)"),
            color=alt.Color("curve:N", title=None,
                            scale=alt.Scale(domain=domain, range=["#1f77b4", "#2ca02c", "#7f7f7f"])),
            strokeDash=alt.StrokeDash("curve:N", legend=None,
                                      scale=alt.Scale(domain=domain, range=[[1, 0], [2, 2], [6, 4]])),
            tooltip=["curve", alt.Tooltip("share_targeted:Q", format=".0%"),
                     alt.Tooltip("incremental_conversions:Q", format=".2f")]).properties(height=320))
        roi = table(snap, "uplift_incremental_roi", quiet=True)
        if roi is not None and not roi[roi["promotion_id"] == arm].empty:
            st.subheader(f"Expected incremental margin of {arm} by targeting strategy")
            chart(alt.Chart(roi[roi["promotion_id"] == arm]).mark_line(point=True).encode(
                x=alt.X("k_fraction:Q", axis=alt.Axis(format="%"), title="share of customers targeted"),
                y=alt.Y("expected_incremental_margin:Q", title="expected incremental margin"),
                color=alt.Color("strategy:N", title="target by"),
                tooltip=["strategy", alt.Tooltip("k_fraction:Q", format=".0%"), "customers_targeted",
                         alt.Tooltip("expected_incremental_conversions:Q", format=",.2f"),
                         alt.Tooltip("expected_incremental_margin:Q", format=",.2f")]).properties(height=240))
    segments = table(snap, "uplift_segments")
    if segments is not None and not segments.empty:
        st.subheader("Persuadables by arm")
        pers = segments[segments["segment"] == "persuadable"]
        frame(pers[[c for c in ["promotion_id", "experiment_id", "customers", "share_of_customers",
                                "predicted_incremental_conversions", "share_of_predicted_incremental_conversions",
                                "mean_predicted_uplift", "mean_predicted_control_probability", "uplift_threshold"]
                    if c in pers.columns]], key="persuadables")
        st.subheader("Uplift segments by arm")
        chart(alt.Chart(segments).mark_bar().encode(
            x=alt.X("share_of_customers:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of customers"),
            y=alt.Y("promotion_id:N", title=None, axis=alt.Axis(labelLimit=220)),
            color=alt.Color("segment:N", scale=alt.Scale(
                domain=["persuadable", "sure_thing", "lost_cause", "do_not_disturb"])),
            tooltip=["promotion_id", "segment", "customers", alt.Tooltip("share_of_customers:Q", format=".1%"),
                     alt.Tooltip("mean_predicted_uplift:Q", format=".3f")]).properties(height=220))
        with st.expander("Every segment of every arm"):
            frame(segments, key="uplift_segments")

# ---------------------------------------------------------------------------------------------- bandit

with tabs[5]:
    st.header("Bandit: promotion strategy over time")
    published = table(snap, "bandit_published_policy")
    gate = table(snap, "bandit_policy_gate", quiet=True)
    if published is not None and published.empty:
        st.info("No policy version was published (too few settled decisions for the off-policy evaluation).")
    elif published is not None:
        active = published[published["is_active"].astype(bool)]
        c1, c2, c3 = st.columns(3)
        if not active.empty:
            a = active.iloc[0]
            c1.metric("Active policy", f"{a['policy_id']} {a['version']}")
            c2.metric("Gate verdict", str(a.get("gate_verdict")))
        if gate is not None and not gate.empty:
            c3.metric("Candidates passing the gate", int(gate["passes_gate"].fillna(False).astype(bool).sum()))
    daily = table(snap, "decision_arm_mix_daily", quiet=True)
    if daily is not None and not daily.empty:
        st.subheader("Arm mix of the logged decisions, by week")
        weekly = arm_mix_shares(daily)
        chart(alt.Chart(weekly).mark_area().encode(
            x=alt.X("period_start:T", title="week starting (Monday)", axis=alt.Axis(format="%b %d")),
            y=alt.Y("share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of decisions"),
            color=alt.Color("promotion_id:N", title="arm"),
            tooltip=["period_start:T", "promotion_id", "decisions", alt.Tooltip("share:Q", format=".1%")]
        ).properties(height=280))
        policies = ", ".join(sorted(daily["policy_id"].unique()))
        st.caption(f"{int(daily['decisions'].sum()):,} logged decisions by {policies}.")
    elif daily is not None:
        st.info("No logged decisions in the ledger.")
    if gate is not None and not gate.empty:
        st.subheader("Off-policy gate: each candidate's difference to the champion on the same holdout decisions")
        cands = gate[~gate["is_champion"].astype(bool)] if "gate_diff" in gate.columns else gate.iloc[0:0]
        if not cands.empty:
            gbase = alt.Chart(cands)
            layers = [
                gbase.mark_rule(strokeWidth=2).encode(
                    x=alt.X("gate_diff_ci_low:Q", title="DR difference in conversion per decision (paired interval)"),
                    x2="gate_diff_ci_high:Q", y=alt.Y("policy_id:N", title=None),
                    color=alt.Color("gate_verdict:N", title="verdict")),
                gbase.mark_point(filled=True, size=80).encode(
                    x="gate_diff:Q", y="policy_id:N", color="gate_verdict:N",
                    tooltip=["policy_id", "policy_class", alt.Tooltip("gate_diff:Q", format="+.4f"),
                             alt.Tooltip("gate_diff_ci_low:Q", format="+.4f"),
                             alt.Tooltip("gate_diff_ci_high:Q", format="+.4f"),
                             alt.Tooltip("gate_p_value:Q", format=".4f"), "gate_verdict", "gate_reason"]),
                alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="zero:Q"),
            ]
            chart(alt.layer(*layers).properties(height=40 * len(cands) + 40))
            st.caption("A candidate ships when Holm's test across the candidates shows its difference above 0 "
                       "(the dashed line); the reason column says why each verdict was given.")
        frame(gate[[c for c in ["policy_id", "version", "policy_class", "gate_verdict", "gate_reason", "gate_diff",
                                "gate_diff_ci_low", "gate_diff_ci_high", "gate_snips_diff", "gate_p_value",
                                "gate_holm_threshold", "ess", "unsupported_share", "estimated_value",
                                "champion_value", "n_decisions", "passes_gate", "is_active"]
                    if c in gate.columns]], key="bandit_gate")
    mix = table(snap, "bandit_holdout_arm_mix", quiet=True)
    if mix is not None and not mix.empty:
        st.subheader("Where each policy would send the holdout traffic")
        chart(alt.Chart(mix).mark_bar().encode(
            x=alt.X("expected_share:Q", stack="normalize", axis=alt.Axis(format="%"), title="expected share"),
            y=alt.Y("policy_id:N", title=None), color=alt.Color("promotion_id:N", title="arm"),
            tooltip=["policy_id", "promotion_id", alt.Tooltip("expected_share:Q", format=".1%"),
                     alt.Tooltip("logged_share:Q", format=".1%"), alt.Tooltip("available_share:Q", format=".1%")]
        ).properties(height=30 * mix["policy_id"].nunique() + 40))
    evaluation = table(snap, "bandit_policy_evaluation", quiet=True)
    if evaluation is not None and not evaluation.empty:
        with st.expander("Every off-policy estimator"):
            frame(evaluation[[c for c in ["policy_id", "estimator", "value", "ci_low", "ci_high", "ess", "max_weight",
                                          "n_decisions", "is_champion", "passes_gate", "gate_verdict"]
                              if c in evaluation.columns]], key="bandit_evaluation")

# ---------------------------------------------------------------------------------------------- fairness

with tabs[6]:
    st.header("Fairness of the purchase-propensity targeting")
    fair = table(snap, "fairness")
    if fair is not None and fair.empty:
        st.info("The fairness table is empty (no holdout customers with protected attributes).")
    elif fair is not None:
        # the gaps with their bootstrap intervals (status "too few": fewer than two groups large enough)
        interval_columns = {c: (c, "first") for c in (
            "demographic_parity_status", "demographic_parity_ci_lower", "demographic_parity_ci_upper",
            "equal_opportunity_status", "equal_opportunity_ci_lower", "equal_opportunity_ci_upper")
            if c in fair.columns}
        summary = fair.groupby("attribute", as_index=False, sort=True).agg(
            demographic_parity_difference=("demographic_parity_difference", "first"),
            equal_opportunity_difference=("equal_opportunity_difference", "first"),
            **interval_columns,
            fairness_threshold=("fairness_threshold", "first"),
            is_parity_gap_flagged=("is_parity_gap_flagged", "first"),
            is_opportunity_gap_flagged=("is_opportunity_gap_flagged", "first"),
            groups=("group_value", "count"))
        flagged = summary[summary["is_parity_gap_flagged"].astype(bool)
                          | summary["is_opportunity_gap_flagged"].astype(bool)]
        if flagged.empty:
            st.success("No attribute has a gap above the review threshold.")
        else:
            st.warning("Gaps above the review threshold: " + ", ".join(flagged["attribute"]))
        too_few = [f"{row.attribute} ({gap})" for row in summary.itertuples()
                   for gap, status in (("selection rate", getattr(row, "demographic_parity_status", None)),
                                       ("true-positive rate", getattr(row, "equal_opportunity_status", None)))
                   if status == "too few"]
        if too_few:
            st.info("Too few customers (or positives) to compare two groups, no gap computed: " + ", ".join(too_few))
        frame(summary, key="fairness_summary")
        if "ci_level" in fair.columns and fair["ci_level"].notna().any():
            st.caption(f"Each gap is max − min over the groups compared, with a {fair['ci_level'].max():.0%} "
                       "bootstrap interval (ci_lower, ci_upper) of the difference between those two groups; an "
                       "interval reaching 0 does not establish which group is targeted more.")
        st.subheader("Selection rate and true-positive rate by group (groups large enough to compare)")
        compared = fair[fair["is_compared"].astype(bool)]
        attributes = sorted(compared["attribute"].unique().tolist())
        for column, attribute in zip(st.columns(max(len(attributes), 1)), attributes, strict=False):
            long = compared[compared["attribute"] == attribute].melt(
                id_vars=["group_value"], value_vars=["selection_rate", "tpr"], var_name="rate", value_name="value")
            with column:
                chart(alt.Chart(long).mark_bar().encode(
                    x=alt.X("group_value:N", title=attribute, axis=alt.Axis(labelAngle=0)), xOffset="rate:N",
                    y=alt.Y("value:Q", axis=alt.Axis(format="%"), title=None), color=alt.Color("rate:N", title=None),
                    tooltip=["group_value", "rate", alt.Tooltip("value:Q", format=".1%")]).properties(height=240))
        frame(fair, key="fairness_groups")

# ---------------------------------------------------------------------------------------------- campaign

with tabs[7]:
    st.header("Campaign target list")
    summary = table(snap, "campaign_target_summary", quiet=True)
    targets = table(snap, "campaign_targets")
    if targets is not None and targets.empty:
        st.info("The campaign target list selects no customer.")
        if summary is not None and not summary.empty:
            frame(summary, key="campaign_summary")
    elif targets is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("Selected customers", f"{len(targets):,}")
        if "expected_profit" in targets.columns:
            c2.metric("Expected profit", f"{targets['expected_profit'].sum():,.2f}")
        if "expected_cost" in targets.columns:
            c3.metric("Expected cost", f"{targets['expected_cost'].sum():,.2f}")
        promo = targets["promotion_id"].iloc[0] if "promotion_id" in targets.columns and len(targets) else None
        st.download_button(f"Download the target list (CSV, {len(targets):,} customers)", data=target_list_csv(targets),
                           file_name=f"campaign_target_list_{promo or 'campaign'}.csv", mime="text/csv",
                           on_click="ignore", key="download_targets")
        if summary is not None:
            st.caption("Every scored customer by selection status")
            frame(summary, key="campaign_summary")
        st.caption("The first 100 selected customers")
        frame(targets.head(100), key="campaign_preview")

# ---------------------------------------------------------------------------------------------- promotion plan

with tabs[8]:
    st.header("Promotion plan: margin by budget")
    frontier = table(snap, "plan_frontier")
    if frontier is not None and frontier.empty:
        st.info("The plan's frontier is empty: no promotion has per-customer uplift from a valid experiment, or no "
                "margin rate is known (ml_promotion_plan_promotions and the build log say which).")
    elif frontier is not None:
        points = frontier_points(frontier)
        budgets = dict(zip(points["point"], points["budget"], strict=True))
        planned_point = plan_point(points)
        chosen = st.select_slider(
            "Budget (total expected cost: discount plus contact)", options=points["point"].tolist(),
            value=planned_point, key="plan_budget",
            format_func=lambda k: f"{budgets[k]:,.2f}" + (" (the plan's)" if k == planned_point else ""))
        at = points[points["point"] == chosen].iloc[0]
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Budget", f"{at['budget']:,.2f}")
        c2.metric("Expected incremental margin", f"{at['total_expected_incremental_margin']:,.2f}")
        c3.metric("Customers with a promotion", f"{int(at['total_customers']):,}")
        c4.metric("Expected cost", f"{at['total_expected_cost']:,.2f}")
        # (a) the frontier, the chosen budget marked
        shown = points.assign(chosen=points["point"] == chosen, plan=points["is_plan_budget"].astype(bool))
        tips = [alt.Tooltip("budget:Q", format=",.2f"),
                alt.Tooltip("total_expected_incremental_margin:Q", format=",.2f", title="expected incremental margin"),
                alt.Tooltip("total_customers:Q", title="customers"),
                alt.Tooltip("total_expected_cost:Q", format=",.2f", title="expected cost"),
                alt.Tooltip("gap:Q", format=".1e"), "method", "plan"]
        base = alt.Chart(shown).encode(
            x=alt.X("budget:Q", title="budget (expected cost, discount plus contact)"),
            y=alt.Y("total_expected_incremental_margin:Q", title="expected incremental margin"))
        chart(alt.layer(
            base.mark_line(point=True).encode(tooltip=tips),
            base.transform_filter("datum.chosen").mark_point(size=250, filled=True, color="#d62728").encode(
                tooltip=tips),
            base.transform_filter("datum.chosen").mark_rule(strokeDash=[4, 4], color="#d62728"),
        ).properties(height=300))
        plan_id = frontier["plan_id"].dropna().iloc[0] if frontier["plan_id"].notna().any() else "?"
        st.caption(f"The efficient frontier of plan {plan_id}: the plan's solver on the plan's candidates, "
                   f"capacities, channel limits and fatigue flags at {len(points)} budgets "
                   f"(ml_promotion_plan_frontier); the plan's budget is {budgets[planned_point]:,.2f}. Largest "
                   f"optimality gap: {points['gap'].max():.1e}. Expected margins are the models' estimates.")
        # (b) the mix of promotions at the chosen budget
        mix = plan_mix(frontier, chosen)
        st.subheader(f"The mix of promotions at a budget of {at['budget']:,.2f}")
        if mix.empty:
            st.info("No customer gets a promotion at this budget.")
        else:
            long = mix.melt(id_vars=["promotion_id"], value_vars=["planned_customers", "expected_incremental_margin"],
                            var_name="measure", value_name="value")
            long["measure"] = long["measure"].map({"planned_customers": "customers",
                                                   "expected_incremental_margin": "expected incremental margin"})
            chart(alt.Chart(long).mark_bar().encode(
                x=alt.X("value:Q", title=None),
                y=alt.Y("promotion_id:N", title=None, sort=mix["promotion_id"].tolist()),
                color=alt.Color("promotion_id:N", legend=None),
                column=alt.Column("measure:N", title=None),
                tooltip=["promotion_id", "measure", alt.Tooltip("value:Q", format=",.2f")],
            ).properties(height=30 * len(mix) + 30).resolve_scale(x="independent"))
            frame(mix, key="plan_mix")
        promotions = table(snap, "plan_promotions", quiet=True)
        if promotions is not None and not promotions.empty:
            left = promotions[~promotions["is_included"].astype(bool)]
            if not left.empty:
                st.caption("Not in the plan: " + "; ".join(f"{r.promotion_id}: {r.reason}"
                                                           for r in left.itertuples()))
        # (c) the reasons of a sample customer of the chosen mix
        st.subheader("Why: a sample customer")
        sample = table(snap, "plan_sample_customers")
        if sample is not None and not mix.empty:
            sample = sample[sample["promotion_id"].isin(mix["promotion_id"])]
            if sample.empty:
                st.info("The stored plan gives none of this mix's promotions to a customer.")
            else:
                c1, c2 = st.columns(2)
                options = [q for q in mix["promotion_id"] if q in set(sample["promotion_id"])]  # most customers first
                promotion = c1.selectbox("Promotion", options, key="plan_promotion")
                customers = sample[sample["promotion_id"] == promotion]
                customer = c2.selectbox("Customer (largest expected margin first)", customers["customer_id"].tolist(),
                                        key="plan_customer")
                r = customers[customers["customer_id"] == customer].iloc[0]
                held = "held out (not contacted, to measure the plan)" if r["is_holdout"] else "contacted"
                st.markdown(f"**{customer}**: {promotion} by {r['channel']}, {held}; expected incremental margin "
                            f"{r['expected_incremental_margin']:,.2f}, expected cost {r['expected_cost']:,.2f}.")
                st.code(r["reasons"], language=None, wrap_lines=True)
                at_plan = "this budget is the plan's" if chosen == planned_point else \
                    f"at {at['budget']:,.2f} the solver may give this customer another promotion or none"
                st.caption(f"The reasons are those of the stored plan {r['plan_id']} (ml_promotion_plan, planned at "
                           f"{pd.Timestamp(r['planned_at']):%Y-%m-%d %H:%M}) at the plan's budget "
                           f"{budgets[planned_point]:,.2f}; {at_plan}. The customer is one of the plan's "
                           f"{int(len(customers))} largest expected margins for {promotion} kept in the snapshot.")
