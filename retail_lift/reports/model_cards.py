"""Model cards of the dbt Python models, written as dbt docs blocks from the built warehouse.

Every dbt Python model (``python_models/**/*.py``) has a card: a ``{% docs model_card_<model> %}`` block that
its yml description embeds with ``{{ doc('model_card_<model>') }}``. A card says what the model predicts or
produces, its data window, its inputs (features), its metrics and, on the simulated world, how it compares with
the oracle (the ground truth), each section a table queried from the model's metrics tables, plus the chart of
:mod:`retail_lift.reports.charts` where one shows the model. No number in a card is written by hand: every value
is read from the warehouse when the card is written (sections whose tables are missing or empty say so).

Where the cards live (and why git stays clean)
----------------------------------------------
The yml descriptions reference the blocks at parse time, so every block must exist for ``dbt parse`` to work in
a fresh clone. ``retail_lift/reports/placeholder_cards/_model_cards.md`` (committed, next to this module, which
regenerates it: ``python -m retail_lift.reports.model_cards``) holds one neutral placeholder per card. The
measured cards are written to ``target/model_cards/_model_cards.md`` (gitignored, with the dbt artefacts).
``dbt_project.yml`` chooses one of the two folders with the environment variable ``RETAIL_LIFT_MODEL_CARDS_DIR``
in ``docs-paths`` (default: the placeholders); ``make docs`` sets it to the generated folder for
``dbt docs generate``. A build therefore never rewrites a committed file, and a clone without a build parses.
(Both folders cannot be in ``docs-paths`` at once: dbt rejects two docs blocks with the same name.)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.warehouse import read_only

from .charts import DOCS_LINK_PREFIX

#: committed placeholders (parsed when RETAIL_LIFT_MODEL_CARDS_DIR is not set)
PLACEHOLDER_PATH = Path(__file__).parent / "placeholder_cards" / "_model_cards.md"
#: where `retail-lift docs-assets` writes the measured cards by default (gitignored)
DEFAULT_CARDS_PATH = Path("target/model_cards/_model_cards.md")
PLACEHOLDER_TEXT = "Card written by `retail-lift docs-assets` after a build."
MAX_ROWS = 40


# ---------------------------------------------------------------------------------------------- card specs
@dataclass(frozen=True)
class Section:
    """One table of a card: ``sql`` runs on the warehouse, its result is rendered as a markdown table."""

    title: str
    sql: str
    tables: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Card:
    model: str
    predicts: str
    inputs: str
    window: str  # "snapshot", "holdout_decisions", "experiments", "order_lines", "closed_contacts", "all_data"
    metrics: tuple[Section, ...] = ()
    oracle: tuple[Section, ...] = ()
    oracle_note: str = ""
    features: tuple[Section, ...] = ()
    charts: tuple[str, ...] = ()
    inputs_from: Callable[[], str] | None = field(default=None, compare=False)


#: the run status of a classifier, in words (the Training run section of its card)
_STATUS_IN_WORDS = (
    "case status "
    "when 'trained' then 'trained: the chosen model is refitted on the train snapshot and scores every customer' "
    "when 'no_positive_labels' then 'not trained, no model and no scores: the train snapshot has no positive "
    "label (nobody did it in the label window), so there is nothing to learn from' "
    "when 'no_negative_labels' then 'not trained, no model and no scores: every labelled row of the train "
    "snapshot is positive (everybody did it in the label window)' "
    "when 'skipped' then 'not trained, no model and no scores: fewer than 10 labelled rows of a class in the "
    "train snapshot' "
    "else status end")


def _classifier_sections(table: str, classifier: str) -> tuple[tuple[Section, ...], tuple[Section, ...]]:
    def split_metrics(split: str) -> str:
        return ("select model, is_chosen_model as chosen, split, max(split_feature_date) as cutoff, "
                + ", ".join(f"max(value) filter (where metric = '{m}') as {m}"
                            for m in ("n", "positives", "roc_auc", "pr_auc", "log_loss", "brier", "ece", "f1",
                                      "threshold"))
                + f" from {table} where record_type = 'metric' and split in ({split}) "
                  f"group by all order by chosen desc, model")

    metrics = (
        Section("Training run", f"select status, {_STATUS_IN_WORDS} as what_it_means, model as chosen_model, "
                                f"validation, train_feature_date, validation_feature_date, test_feature_date, "
                                f"refit_feature_date, train_rows, train_positives, score_rows, message "
                                f"from {table} where record_type = 'run'",
                (table,)),
        Section("Test metrics (the out-of-time test snapshot: nothing was fitted, chosen or tuned on it; "
                "the chosen model first)", split_metrics("'test', 'holdout'"), (table,),
                note="Every model was fitted on the snapshot at `train_feature_date` (c − 90 days) and its F1 "
                     "threshold taken from the validation snapshot. When the data is too short for that "
                     "(`validation` = random_customer_holdout, see the message), the split is `holdout`: a random "
                     "30 % of the customers of the train snapshot, on which the model was also chosen."),
        Section("Validation metrics (the snapshot the model and its threshold were chosen on: optimistic for "
                "the chosen model)", split_metrics("'validation'"), (table,)),
    )
    features = (
        Section("Top features (importance of the chosen model, normalised to sum 1)",
                f"select importance_rank as rank, feature, source_column, importance from {table} "
                f"where record_type = 'importance' order by importance_rank limit 10", (table,)),
        Section("Feature drift (population stability index between the refit and score snapshots; "
                "warning above 0.2; the largest first)",
                f"select feature, value as psi, is_drift_warning as warning from {table} "
                f"where record_type = 'drift' order by value desc nulls last, feature limit 15", (table,),
                note="PSI over the train deciles (levels for categoricals, missing values their own bin). "
                     "Counts that grow with time drift by construction between two cutoffs 30 days apart."),
    )
    return metrics, features


_ORACLE_PREDICT = "evaluation.ml_predict_oracle_comparison"


def _predict_oracle(classifier: str) -> tuple[Section, ...]:
    return (Section("Against the oracle (the true purchase probabilities of the same holdout customers)",
                    f"select model, is_chosen_model as chosen, model_roc_auc, oracle_roc_auc, auc_ratio, "
                    f"target_auc_ratio, meets_target, mean_abs_error_vs_true, score_rank_correlation "
                    f"from {_ORACLE_PREDICT} where classifier = '{classifier}' order by chosen desc, model",
                    (_ORACLE_PREDICT,)),)


def _uplift_features() -> str:
    try:
        from retail_lift.uplift.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    except ImportError:  # pragma: no cover - the package is part of the project
        return "the customer's state at assignment (see the description)"
    return ("the customer's state at assignment: one-hot " + ", ".join(f"`{f}`" for f in CATEGORICAL_FEATURES)
            + "; numeric " + ", ".join(f"`{f}`" for f in NUMERIC_FEATURES))


def _bandit_features() -> str:
    try:
        from retail_lift.bandit.context import CONTEXT_FIELDS
    except ImportError:  # pragma: no cover
        return "the logged decision context"
    return "the logged decision context: " + ", ".join(f"`{f}`" for f in CONTEXT_FIELDS)


_PP, _RC, _FB, _CP = ("ml.ml_purchase_propensity_fit", "ml.ml_returning_customer_fit",
                      "ml.ml_facebook_acquisition_fit", "ml.ml_category_propensity_fit")
_UPLIFT_METRICS = "ml.ml_uplift_metrics"
_UPLIFT_EVAL = "evaluation.ml_eval_uplift_vs_truth"
_TARGETING_EVAL = "evaluation.ml_eval_targeting_vs_truth"
_PLAN_EVAL = "evaluation.ml_eval_promotion_plan_vs_truth"
_BANDIT_EVAL = "ml.ml_bandit_policy_evaluation"
_BANDIT_TRUTH = "evaluation.rpt_eval_bandit_policy_value_vs_truth"
_CAMPAIGN_TRUTH = "evaluation.ml_campaign_oracle_comparison"
_NO_TRUTH_CLASSIFIER = ("The simulated world states no true probability for this label, so there is no oracle "
                        "comparison (`ml_predict_oracle_comparison` covers purchase_propensity and "
                        "returning_customer).")

_UPLIFT_ORACLE = (Section(
    "Against the oracle (Qini of the true effects of the same exposures, out-of-fold predictions; target ratio 0.7)",
    f"select experiment_id, promotion_id, learner, n_treated, n_control, model_qini, oracle_qini, "
    f"qini_oracle_ratio, ratio_ci_low, ratio_ci_high, spearman_correlation, meets_target from {_UPLIFT_EVAL} "
    f"order by experiment_id, promotion_id", (_UPLIFT_EVAL,)), Section(
    "Limits of that ratio (retail_lift.evaluation.uplift_limits): the true uplift regressed on the features, "
    "and the learner refitted with the hidden uplift type revealed",
    f"select experiment_id, promotion_id, n_treated, qini_oracle_ratio, true_gain_ratio, feature_ceiling_kind, "
    f"feature_ceiling_qini_ratio, feature_ceiling_gain_ratio, feature_ceiling_r2, type_revealed_qini_ratio, "
    f"type_revealed_gain_ratio from {_UPLIFT_EVAL} order by experiment_id, promotion_id", (_UPLIFT_EVAL,),
    note="A ratio near the lower limit is as good as these features and this many exposures allow."))

_BANDIT_ORACLE = (Section(
    "Against the truth (the simulated world's true conversion probabilities of the holdout decisions)",
    f"select policy_id, is_active, true_value, oracle_value, share_of_oracle, dr_value, dr_relative_error, "
    f"is_true_value_in_dr_interval, meets_oracle_share_target from {_BANDIT_TRUTH} "
    f"order by is_champion desc, policy_id", (_BANDIT_TRUTH,)),)

_BANDIT_WINDOW = Section(
    "Time split of the settled decisions",
    f"select any_value(n_train_decisions) as n_train_decisions, any_value(holdout_starts_at) as holdout_starts_at, "
    f"max(n_decisions) as n_holdout_decisions from {_BANDIT_EVAL}", (_BANDIT_EVAL,))

_CAMPAIGN_ORACLE = (Section(
    "Against the truth (the campaign valued with the simulated world's true responses)",
    f"select strategy, basis, promotion_id, contacts, conversions, revenue, cost, profit, roi "
    f"from {_CAMPAIGN_TRUTH} order by basis, strategy", (_CAMPAIGN_TRUTH,)),)

#: the plan's efficient frontier, one row per budget (the plan's card and the frontier's own)
_PLAN_FRONTIER = Section(
    "The efficient frontier (expected incremental margin by budget; ml_promotion_plan_frontier)",
    "select point, budget, is_plan_budget, max(total_customers) as customers, "
    "max(total_expected_incremental_margin) as expected_incremental_margin, max(total_expected_cost) as "
    "expected_cost, max(gap) as gap, max(method) as method from ml.ml_promotion_plan_frontier group by all "
    "order by point", ("ml.ml_promotion_plan_frontier",),
    note="The plan's solver on the plan's candidates and limits at each budget; is_plan_budget marks the plan.")
_FIT_METRICS = {t: _classifier_sections(t, c) for t, c in (
    (_PP, "purchase_propensity"), (_RC, "returning_customer"), (_FB, "facebook_acquisition"),
    (_CP, "category_propensity"))}

CARDS: tuple[Card, ...] = (
    # ------------------------------------------------------------------ predict
    Card("ml_purchase_propensity_fit",
         predicts="The probability that a customer places at least one order (online or in store) in the 30 days "
                  "after the cutoff; logistic regression, xgboost and CatBoost fitted on an earlier snapshot, the "
                  "lowest log loss on the next (validation) snapshot refitted on the latest labelled one and scored.",
         inputs="every feature column of `fct_customer_features` at the cutoff (demographics, acquisition, "
                "orders, spend, sessions, views, carts over several windows)",
         window="snapshot", metrics=_FIT_METRICS[_PP][0], features=_FIT_METRICS[_PP][1],
         oracle=_predict_oracle("purchase_propensity"), charts=("calibration",)),
    Card("ml_returning_customer_fit",
         predicts="The probability that a first-time buyer places a second order in the 30 days after the cutoff.",
         inputs="the features of `fct_customer_features` of the customers with exactly one order before the cutoff",
         window="snapshot", metrics=_FIT_METRICS[_RC][0], features=_FIT_METRICS[_RC][1],
         oracle=_predict_oracle("returning_customer"), charts=("calibration",)),
    Card("ml_facebook_acquisition_fit",
         predicts="The probability that a customer was acquired through facebook (a look-alike model for "
                  "acquisition targeting).",
         inputs="every feature of `fct_customer_features` except `acquisition_channel` itself and the labels",
         window="snapshot", metrics=_FIT_METRICS[_FB][0], features=_FIT_METRICS[_FB][1],
         oracle_note=_NO_TRUTH_CLASSIFIER, charts=("calibration",)),
    Card("ml_category_propensity_fit",
         predicts="The probability that a customer buys in a top-level category in the 30 days after the cutoff "
                  "(one row per customer × category).",
         inputs="the customer's views, carts, purchases, orders, units and spend in the category, its shares of "
                "the customer's spend and views, days since the last purchase in it, and the category "
                "(`fct_customer_category_features`)",
         window="snapshot", metrics=_FIT_METRICS[_CP][0], features=_FIT_METRICS[_CP][1],
         oracle_note=_NO_TRUTH_CLASSIFIER, charts=("calibration",)),
    Card("ml_purchase_propensity_fairness",
         predicts="The fairness of the purchase-propensity targeting decision (probability ≥ the chosen model's "
                  "F1 threshold) per protected attribute and group: selection rate, precision, true-positive rate "
                  "and the demographic-parity and equal-opportunity differences with bootstrap intervals "
                  "(\"too few\" below the minimum group size).",
         inputs="the holdout rows of `ml_purchase_propensity_fit` and `gender`, `age_band` of `dim_customers`",
         window="snapshot",
         metrics=(Section("Gaps with bootstrap intervals",
                          "select distinct attribute, 'selection rate (demographic parity)' as gap, "
                          "demographic_parity_status as status, demographic_parity_difference as difference, "
                          "demographic_parity_ci_lower as ci_lower, demographic_parity_ci_upper as ci_upper, "
                          "fairness_threshold, is_parity_gap_flagged as is_flagged, min_group_size, "
                          "bootstrap_resamples, ci_level from ml.ml_purchase_propensity_fairness "
                          "union all "
                          "select distinct attribute, 'true-positive rate (equal opportunity)' as gap, "
                          "equal_opportunity_status, equal_opportunity_difference, equal_opportunity_ci_lower, "
                          "equal_opportunity_ci_upper, fairness_threshold, is_opportunity_gap_flagged, "
                          "min_group_size, bootstrap_resamples, ci_level from ml.ml_purchase_propensity_fairness "
                          "order by attribute, gap", ("ml.ml_purchase_propensity_fairness",),
                          note="Each difference is max − min of the rate over the groups compared, with a "
                               "percentile bootstrap interval of the difference between those two groups "
                               "(customers resampled within each group; `bootstrap_resamples` resamples, seeded; with "
                               "more than two groups at the Bonferroni level over the pairs). "
                               "An interval reaching 0 or below: the data do not establish which of the two "
                               "groups is targeted (or found) more often. Status `too few`: fewer than two groups "
                               "have `min_group_size` customers (selection rate) or positives (true-positive "
                               "rate), and the difference is left empty rather than computed on noise."),
                  Section("Per attribute and group",
                          "select attribute, group_value, n, positives, selected, selection_rate, precision, tpr, "
                          "is_compared, is_tpr_compared from ml.ml_purchase_propensity_fairness "
                          "order by attribute, group_value", ("ml.ml_purchase_propensity_fairness",))),
         oracle_note="Fairness is measured on the realised labels; no oracle."),
    # ------------------------------------------------------------------ evaluation (simulated truth)
    Card("ml_predict_oracle_comparison",
         predicts="The propensity classifiers measured against the oracle: the AUC, log loss and Brier score of the "
                  "true purchase probabilities of the same holdout customers, and the ratio of the model's AUC to "
                  "the oracle's (target 0.9).",
         inputs="the fit tables of purchase_propensity and returning_customer, and the simulated world's truth",
         window="snapshot",
         metrics=(Section("Model against oracle",
                          f"select classifier, model, is_chosen_model as chosen, n, positives, model_roc_auc, "
                          f"oracle_roc_auc, auc_ratio, gini_ratio, model_log_loss, oracle_log_loss, model_brier, "
                          f"oracle_brier, meets_target, score_rank_correlation from {_ORACLE_PREDICT} "
                          f"order by classifier, chosen desc, model", (_ORACLE_PREDICT,)),),
         oracle_note="This model is itself the oracle comparison (simulated world only)."),
    Card("ml_campaign_oracle_comparison",
         predicts="The campaign of `ml_campaign_target_list` valued three ways: as the model expects, with the "
                  "true attributed responses and with the true incremental responses of the simulated world.",
         inputs="`ml_campaign_target_list` and the simulated world's true customer × arm responses",
         window="snapshot", metrics=_CAMPAIGN_ORACLE,
         oracle_note="This model is itself the oracle comparison (simulated world only)."),
    Card("ml_eval_uplift_vs_truth",
         predicts="The uplift models' Qini on out-of-fold (5-fold cross-fitted) predictions of every participant "
                  "against the oracle Qini of the true effects of the same exposures, their ratio with a 90 % "
                  "bootstrap interval, and the correlation of predicted and true uplift.",
         inputs="`ml_uplift_holdout_predictions` and the true effect per exposure", window="experiments",
         metrics=_UPLIFT_ORACLE, oracle_note="This model is itself the oracle comparison (simulated world only).",
         charts=("qini_curves",)),
    Card("ml_eval_targeting_vs_truth",
         predicts="The true incremental conversions and margin of the customers that targeting by uplift, by "
                  "propensity, everyone or the oracle would select, per promotion and share targeted.",
         inputs="`ml_customer_uplift`, `ml_uplift_incremental_roi` and the true response per customer and arm",
         window="experiments",
         metrics=(Section("True value of each targeting strategy",
                          f"select promotion_id, strategy, k_fraction, customers_targeted, "
                          f"true_incremental_conversions, true_incremental_margin, margin_vs_propensity, "
                          f"expected_incremental_margin from {_TARGETING_EVAL} "
                          f"order by promotion_id, k_fraction, strategy", (_TARGETING_EVAL,)),),
         oracle_note="This model is itself the oracle comparison (simulated world only)."),
    # ------------------------------------------------------------------ uplift
    Card("ml_uplift_run",
         predicts="The uplift of each promotion on a customer's conversion (treated minus control probability), "
                  "per experiment: in each of 5 cross-fitting folds the learner (X or T) and its outcome-model "
                  "family (L2-logistic or gradient boosting) are chosen by an inner cross-validated Qini of the "
                  "other folds only, fitted there and predict the fold (nested, so the reported Qini is not the "
                  "score that chose); the choice most folds made, refitted on all exposures, scores every "
                  "customer, who is then segmented (persuadable, sure thing, lost cause, do not disturb).",
         inputs="", inputs_from=_uplift_features, window="experiments",
         metrics=(Section("Nested out-of-fold metrics and placebo per promotion (the scoring learner)",
                          "select experiment_id, promotion_id, learner, base_learner, "
                          + ", ".join(f"max(metric_value) filter (where metric_name = '{m}') as {m}"
                                      for m in ("n_treated", "n_control", "qini_auc", "uplift_auc", "uplift_at_20",
                                                "observed_uplift", "placebo_qini_mean", "placebo_qini_p95",
                                                "n_placebo", "placebo_pass", "selection_agreement"))
                          + f" from {_UPLIFT_METRICS} where is_selected_learner and metric_name <> 'inner_qini' "
                            f"group by all order by experiment_id, promotion_id", (_UPLIFT_METRICS,),
                          note="Placebo: the labels of the arm's and the control's exposures shuffled `n_placebo` "
                               "times, the arm's scoring learner refitted in "
                               "the same folds; `placebo_pass` = 1 when `qini_auc` is above the placebo's 95th "
                               "percentile (an arm with more than `placebo_max_rows` rows: on a stratified sample, "
                               "compared with `placebo_sample_qini` in `ml_uplift_metrics`). "
                               "`selection_agreement`: share of the folds that chose the same learner."),
                  Section("Learner selection, per arm (inner cross-validated Qini of every candidate on all "
                          "exposures of the arm and the control)",
                          "select experiment_id, promotion_id, learner, base_learner, max(metric_value) as inner_qini, "
                          "bool_or(is_selected_learner) as selected "
                          f"from {_UPLIFT_METRICS} where metric_name = 'inner_qini' group by all "
                          "order by experiment_id, promotion_id, inner_qini desc", (_UPLIFT_METRICS,)),
                  Section("Arms not estimated, and arms that fail the placebo",
                          "select experiment_id, promotion_id, metric_name as kind, note "
                          f"from {_UPLIFT_METRICS} where metric_name in ('status', 'placebo_status') "
                          "order by experiment_id, promotion_id", (_UPLIFT_METRICS,),
                          note="Not estimable: an empty arm, a single outcome value, fewer than "
                               "`min_treated_conversions` treated conversions or `min_group_size` exposures; "
                               "the experiment's other arms go on."),
                  Section("Persuadables and the other segments",
                          "select promotion_id, segment, customers, share_of_customers, "
                          "share_of_predicted_incremental_conversions from ml.ml_uplift_segments "
                          "order by promotion_id, segment", ("ml.ml_uplift_segments",))),
         oracle=_UPLIFT_ORACLE, charts=("qini_curves",)),
    # ------------------------------------------------------------------ bandit
    Card("ml_bandit_holdout_probabilities",
         predicts="The probability with which each policy (the logging champion and every candidate) would choose "
                  "each arm for the logged context of every holdout decision: the input of the off-policy "
                  "evaluation.",
         inputs="", inputs_from=_bandit_features, window="holdout_decisions",
         metrics=(Section("Holdout decisions per policy",
                          "select policy_id, count(distinct decision_id) as decisions, "
                          "count(*) filter (where is_available) as available_arm_rows, "
                          "count(distinct promotion_id) as arms from ml.ml_bandit_holdout_probabilities "
                          "group by all order by policy_id", ("ml.ml_bandit_holdout_probabilities",)),),
         oracle=_BANDIT_ORACLE, charts=("bandit_arm_mix",)),
    Card("ml_bandit_policy_evaluation",
         predicts="The conversion rate per decision each policy would reach on the time holdout, estimated off "
                  "policy (IPS, SNIPS, DM, DR, switch-DR) with 95 % bootstrap intervals, and the paired OPE gate "
                  "that decides whether a candidate replaces the champion (the DR difference on the same "
                  "decisions, Holm across the candidates).",
         inputs="", inputs_from=_bandit_features, window="holdout_decisions",
         metrics=(Section("The paired gate: DR difference to the champion on the same holdout decisions",
                          f"select policy_id, is_champion, value, gate_diff, gate_diff_ci_low, gate_diff_ci_high, "
                          f"gate_snips_diff, gate_p_value, gate_holm_threshold, ess, unsupported_share, "
                          f"gate_verdict, gate_reason from {_BANDIT_EVAL} where estimator = 'dr' "
                          f"order by is_champion desc, gate_diff_ci_low desc, policy_id", (_BANDIT_EVAL,)),),
         oracle=_BANDIT_ORACLE, charts=("bandit_arm_mix",)),
    Card("ml_bandit_published_policy",
         predicts="The policy versions of the build, serialised for serving (the decision API loads the active "
                  "one): the champion and every candidate refit on all settled decisions.",
         inputs="", inputs_from=_bandit_features, window="holdout_decisions",
         metrics=(Section("Published versions",
                          "select policy_id, version, policy_class, is_active, gate_verdict, n_train_decisions, "
                          "trained_until from ml.ml_bandit_published_policy order by is_active desc, policy_id",
                          ("ml.ml_bandit_published_policy",)),),
         oracle=_BANDIT_ORACLE),
    Card("ml_bandit_policy",
         predicts="The active published policy's probability of choosing each arm for each customer, scored on the "
                  "customer's latest logged decision context (no training).",
         inputs="", inputs_from=_bandit_features, window="holdout_decisions",
         metrics=(Section("Arm mix of the active policy over the customers",
                          "select policy_id, version, promotion_id, count(distinct customer_id) as customers, "
                          "avg(probability) as mean_probability from ml.ml_bandit_policy "
                          "group by all order by policy_id, version, promotion_id", ("ml.ml_bandit_policy",)),),
         oracle=_BANDIT_ORACLE, charts=("bandit_arm_mix",)),
    # ------------------------------------------------------------------ campaign
    Card("ml_campaign_target_list",
         predicts="Who receives the campaign promotion: customers ranked by the expected profit of the send "
                  "(purchase probability × order value × margin − discount and contact cost), with a personalised "
                  "discount and the best send hour; fatigued customers excluded.",
         inputs="`ml_purchase_propensity_scores`, `fct_customer_features`, `fct_customer_activity_by_weekday_hour`, "
                "`dim_campaign_promotions`, `ml_campaign_fatigue`, `ml_customer_segments`",
         window="snapshot",
         metrics=(Section("Selection",
                          "select status, count(*) as customers, avg(purchase_probability) as mean_probability, "
                          "sum(expected_conversions) as expected_conversions, sum(expected_profit) as "
                          "expected_profit, sum(expected_cost) as expected_cost from ml.ml_campaign_target_list "
                          "group by all order by min(rank)", ("ml.ml_campaign_target_list",)),),
         oracle=_CAMPAIGN_ORACLE),
    Card("ml_campaign_broadcast_vs_targeted",
         predicts="The expected result of sending the promotion to every candidate (broadcast) against the "
                  "selected customers with personalised discounts (targeted).",
         inputs="`ml_campaign_target_list`", window="snapshot",
         metrics=(Section("Broadcast against targeted (model expectations)",
                          "select strategy, promotion_id, contacts, expected_conversions, expected_revenue, "
                          "expected_cost, expected_profit, expected_roi, expected_conversion_rate "
                          "from ml.ml_campaign_broadcast_vs_targeted order by strategy",
                          ("ml.ml_campaign_broadcast_vs_targeted",)),),
         oracle=_CAMPAIGN_ORACLE),
    Card("ml_campaign_fatigue",
         predicts="Which customers are fatigued by promotions: the response of their last contacts fell below "
                  "half their (shrunk) earlier rate, unlikely by chance (binomial p < 0.1).",
         inputs="the closed-window promotion contacts of `fct_promotion_exposures`", window="closed_contacts",
         metrics=(Section("Customers flagged",
                          "select max(as_of) as as_of, count(*) as customers, "
                          "count(*) filter (where is_fatigued) as fatigued, sum(n_exposures) as contacts, "
                          "sum(conversions) as conversions from ml.ml_campaign_fatigue", ("ml.ml_campaign_fatigue",)),),
         oracle_note="The simulated world's fatigue is not stated per customer; no oracle comparison."),
    Card("ml_campaign_fatigue_curve",
         predicts="The response rate by the number of earlier contacts of the same customer, with 95 % Wilson "
                  "intervals: a falling curve is fatigue across the population.",
         inputs="the closed-window promotion contacts of `fct_promotion_exposures`", window="closed_contacts",
         metrics=(Section("Response by earlier contacts",
                          "select prior_exposures, exposures, conversions, response_rate, ci_low, ci_high "
                          "from ml.ml_campaign_fatigue_curve order by prior_exposures",
                          ("ml.ml_campaign_fatigue_curve",)),),
         oracle_note="Descriptive; no oracle comparison."),
    Card("ml_promotion_plan",
         predicts="Which promotion each scored customer gets, or none, maximising the expected incremental margin "
                  "(uplift × order value × margin − discount and contact cost) under the budget, per-promotion "
                  "capacities and per-channel contact limits (exact MILP, or the rounded LP with its optimality "
                  "gap), with a stratified holdout and a readable reason per row. Plans are versioned: an "
                  "unchanged plan_id reuses the stored plan and its holdout.",
         inputs="`ml_customer_uplift` (the promotions with a valid experiment), `dim_campaign_promotions`, "
                "`fct_customer_features`, `ml_campaign_fatigue`",
         window="snapshot",
         metrics=(Section("The plan per promotion",
                          "select plan_id, coalesce(promotion_id, '(none)') as promotion_id, count(*) as customers, "
                          "count(*) filter (where is_holdout) as held_out, sum(expected_incremental_margin) as "
                          "expected_incremental_margin, sum(expected_cost) as expected_cost "
                          "from ml.ml_promotion_plan group by all order by promotion_id", ("ml.ml_promotion_plan",)),
                  _PLAN_FRONTIER),
         oracle_note="Against the truth (simulated world): `ml_eval_promotion_plan_vs_truth` values this plan's "
                     "method at several budgets with the true uplift, next to the ceiling and oracle plans and two "
                     "single-promotion baselines, and checks the holdout interval's coverage."),
    Card("ml_promotion_plan_frontier",
         predicts="The efficient frontier of the promotion plan: the expected incremental margin the plan's solver "
                  "reaches on the plan's candidates, capacities, channel limits and fatigue flags at a grid of "
                  "budgets (var plan_frontier_points, from the cheapest contact to the cost of the plan without a "
                  "budget, plus the plan's budget), and the mix of promotions at each; the point at the plan's "
                  "budget is the plan.",
         inputs="`ml_customer_uplift`, `dim_campaign_promotions`, `fct_customer_features`, `ml_campaign_fatigue` "
                "(the plan's inputs), `ml_promotion_plan` (its plan id)",
         window="snapshot",
         metrics=(_PLAN_FRONTIER,
                  Section("The mix of promotions at the plan's budget",
                          "select promotion_id, channel, planned_customers, expected_incremental_margin, "
                          "expected_cost from ml.ml_promotion_plan_frontier where is_plan_budget "
                          "order by promotion_id", ("ml.ml_promotion_plan_frontier",))),
         oracle_note="Expected (model) margins; the true margin at several budgets is "
                     "`ml_eval_promotion_plan_vs_truth`."),
    Card("ml_eval_promotion_plan_vs_truth",
         predicts="The TRUE incremental margin of the promotion plan at several budgets (shares of the unbudgeted "
                  "plan's expected cost, and no budget), next to the same solver on the feature-ceiling uplift "
                  "and on the true uplift, and to the best single promotion by uplift and by propensity at the "
                  "same cost; and how often the holdout's 90 % interval covers the true margin over re-drawn "
                  "holdouts and outcomes.",
         inputs="`ml_customer_uplift`, `dim_campaign_promotions`, `fct_customer_features`, `ml_campaign_fatigue`, "
                "`ml_purchase_propensity_scores`, `fct_uplift_scoring_customers` and the true response per "
                "customer and arm",
         window="snapshot",
         metrics=(Section("True margin per budget and policy",
                          f"select budget_share, policy, promotion_id, customers_targeted, expected_cost, true_cost, "
                          f"true_incremental_margin, ratio_to_ceiling, ratio_to_oracle, meets_ceiling_target, "
                          f"beats_baselines, holdout_coverage, holdout_coverage_se from {_PLAN_EVAL} "
                          f"order by budget_share nulls last, policy", (_PLAN_EVAL,)),),
         oracle_note="This model is itself the oracle comparison (simulated world only).",
         charts=("plan_frontier",)),
    Card("ml_promotion_plan_promotions",
         predicts="Every promotion of the promotions table: in the plan or left out, and why (no valid "
                  "experiment: a sample-ratio mismatch, none run, or a control arm).",
         inputs="`dim_campaign_promotions`, `ml_customer_uplift`, `ml_uplift_metrics`, `fct_experiment_srm`, "
                "`ml_promotion_plan`", window="snapshot",
         metrics=(Section("Promotions",
                          "select promotion_id, channel, is_included, reason, planned_customers, holdout_customers "
                          "from ml.ml_promotion_plan_promotions order by promotion_id",
                          ("ml.ml_promotion_plan_promotions",)),),
         oracle_note="Descriptive; no oracle comparison."),
    Card("ml_promotion_plan_assignments",
         predicts="The assignment log of every stored plan, as an experiment's: treated or held out per plan, "
                  "promotion and customer.",
         inputs="the plan store (`plans/` beside the warehouse) or `ml_promotion_plan`", window="snapshot",
         metrics=(Section("Assignments per plan",
                          "select plan_id, min(assigned_at) as planned_at, count(*) as customers, "
                          "count(*) filter (where is_control) as held_out from ml.ml_promotion_plan_assignments "
                          "group by all order by planned_at", ("ml.ml_promotion_plan_assignments",)),),
         oracle_note="Descriptive; no oracle comparison."),
    Card("ml_plan_vs_holdout",
         predicts="The realised incremental margin per customer of each plan and promotion: the treated against "
                  "the held-out customers over the orders after planned_at, with the experiment engine's interval.",
         inputs="`ml_promotion_plan_assignments`, `stg_shop__orders`", window="all_data",
         metrics=(Section("Plan against holdout",
                          "select plan_id, promotion_id, status, treated_customers, holdout_customers, "
                          "incremental_margin_per_customer, ci_low, ci_high from ml.ml_plan_vs_holdout "
                          "order by planned_at, promotion_id", ("ml.ml_plan_vs_holdout",)),),
         oracle_note="The holdout interval's coverage of the true incremental margin over re-drawn holdouts is "
                     "measured by `ml_eval_promotion_plan_vs_truth` (simulated world)."),
    # ------------------------------------------------------------------ cross-sell
    Card("ml_crosssell_rules",
         predicts="Association rules A → B between items bought in the same order, with support, confidence and "
                  "lift.",
         inputs="the baskets (distinct items per order) of `fct_customer_order_lines`", window="order_lines",
         metrics=(Section("Rules mined",
                          "select item_level, count(*) as rules, max(n_orders) as orders, median(support) as "
                          "median_support, median(confidence) as median_confidence, median(lift) as median_lift, "
                          "max(lift) as max_lift from ml.ml_crosssell_rules group by all order by item_level",
                          ("ml.ml_crosssell_rules",)),),
         oracle_note="Measured on a time holdout in `ml_crosssell_evaluation`; no oracle."),
    Card("ml_crosssell_recommendations",
         predicts="The top items each customer has not bought yet, scored by the strongest rule whose antecedent "
                  "they bought.",
         inputs="`fct_customer_order_lines` and `ml_crosssell_rules`", window="order_lines",
         metrics=(Section("Recommendations",
                          "select item_level, count(distinct customer_id) as customers, count(*) as "
                          "recommendations, avg(score) as mean_score from ml.ml_crosssell_recommendations "
                          "group by all order by item_level", ("ml.ml_crosssell_recommendations",)),
                  Section("Quality on the time holdout (from ml_crosssell_evaluation)",
                          "select item_level, method, n, precision_at_n, recall_at_n, hit_rate_at_n, coverage "
                          "from ml.ml_crosssell_evaluation where n = 5 order by item_level, method",
                          ("ml.ml_crosssell_evaluation",))),
         oracle_note="No oracle; the time holdout is the check."),
    Card("ml_crosssell_evaluation",
         predicts="Precision, recall and hit rate at N and coverage of the rule-based recommendations against a "
                  "popularity baseline, on the purchases after the train cutoff.",
         inputs="`fct_customer_order_lines` before (rules, owned items) and after (truth) the train cutoff",
         window="snapshot",
         metrics=(Section("Time-holdout metrics",
                          "select item_level, method, n, cutoff_at, n_rules, n_customers, precision_at_n, "
                          "recall_at_n, hit_rate_at_n, coverage from ml.ml_crosssell_evaluation "
                          "order by item_level, method, n", ("ml.ml_crosssell_evaluation",)),),
         oracle_note="No oracle; the popularity baseline is the reference."),
    # ------------------------------------------------------------------ customers, experiments, segments
    Card("ml_customer_lifetime_value",
         predicts="Expected repeat purchases in the next 365 days and the probability of being alive (BG/NBD), the "
                  "expected spend per purchase (Gamma-Gamma), and a 12-month CLV discounted at 1 % a month as "
                  "revenue (`clv_revenue_12m`; `clv_12m` is its deprecated alias) and as gross margin "
                  "(`clv_margin_12m`). Plain maximum likelihood; a penalty is opt-in and time-unit invariant.",
         inputs="`frequency`, `recency`, `T`, `monetary_value`, `total_amount` and `cost_of_goods` of "
                "`fct_customer_ltv_inputs` (daily granularity)",
         window="all_data",
         metrics=(Section("Predictions over the customers",
                          "select count(*) as customers, avg(expected_purchases_365d) as mean_expected_purchases, "
                          "avg(probability_alive) as mean_probability_alive, "
                          "sum(clv_revenue_12m) as total_clv_revenue_12m, "
                          "median(clv_revenue_12m) as median_clv_revenue_12m, "
                          "sum(clv_margin_12m) as total_clv_margin_12m, any_value(clv_status) as clv_status "
                          "from ml.ml_customer_lifetime_value", ("ml.ml_customer_lifetime_value",)),
                  Section("Parameters, totals and bootstrap intervals",
                          "select model, parameter, value, ci_low, ci_high, bootstrap_samples, status "
                          "from ml.ml_customer_lifetime_value_params",
                          ("ml.ml_customer_lifetime_value_params",)),),
         oracle=(Section("Calibration/holdout and truth (simulated world)",
                         "select evaluation, frequency_bucket, customers, predicted_purchases, realised_purchases, "
                         "purchases_error, predicted_spend_per_purchase, realised_spend_per_purchase, "
                         "spend_per_purchase_error, target_abs_error, meets_target "
                         "from evaluation.ml_eval_clv_vs_truth", ("evaluation.ml_eval_clv_vs_truth",)),),
         oracle_note="The fit uses every customer's history up to the snapshot date. The holdout rows refit on all "
                     "but the last 61 days and predict those; the truth rows compare the 365-day expectation with "
                     "the simulated world's order rates and active periods (empty on real data)."),
    Card("ml_customer_lifetime_value_params",
         predicts="The parameters of the CLV models (BG/NBD r, alpha, a, b; Gamma-Gamma p, q, v and the population "
                  "mean spend), their log-likelihood and penalizer, and the totals of `ml_customer_lifetime_value`, "
                  "with 95 % percentile bootstrap intervals and each model's status.",
         inputs="`fct_customer_ltv_inputs` (the same fit as `ml_customer_lifetime_value`)",
         window="all_data",
         metrics=(Section("Parameters, totals and bootstrap intervals",
                          "select model, parameter, value, ci_low, ci_high, bootstrap_samples, status "
                          "from ml.ml_customer_lifetime_value_params",
                          ("ml.ml_customer_lifetime_value_params",)),),
         oracle_note="The intervals are parameter uncertainty (customers resampled, each resample refitted); the "
                     "model's accuracy is in `ml_eval_clv_vs_truth`."),
    Card("ml_eval_clv_vs_truth",
         predicts="The CLV model measured: refitted on all but the last 61 days and predicting those (per "
                  "calibration frequency bucket, purchases and spend, errors of the totals; target 5 % on total "
                  "purchases), and its 365-day expectation against the simulated world's order rates and mean order "
                  "values (target 10 % on one-time buyers' spend).",
         inputs="`stg_shop__orders`, `ml_customer_lifetime_value` and the simulated world's truth",
         window="all_data",
         metrics=(Section("Holdout and truth",
                          "select evaluation, frequency_bucket, customers, predicted_purchases, realised_purchases, "
                          "purchases_error, predicted_spend_per_purchase, realised_spend_per_purchase, "
                          "spend_per_purchase_error, spend_error, target_abs_error, meets_target "
                          "from evaluation.ml_eval_clv_vs_truth", ("evaluation.ml_eval_clv_vs_truth",)),),
         oracle_note="This model is itself the comparison with the truth (simulated world only; empty on real data)."),
    Card("ml_experiment_results",
         predicts="The effect of each treatment variant against control per metric, with intervals, p-values "
                  "(Holm-adjusted), CUPED, a sequential p-value, Bayesian probability to beat control, the "
                  "sample-ratio check and the verdict.",
         inputs="`fct_experiment_variant_stats` and `fct_experiment_srm` (closed attribution windows only)",
         window="experiments",
         metrics=(Section("Results",
                          "select experiment_id, variant, metric_name, control_users, variant_users, relative_lift, "
                          "relative_lift_ci_low, relative_lift_ci_high, p_value_adjusted, prob_beat_control, "
                          "is_srm, decision from ml.ml_experiment_results "
                          "order by experiment_id, metric_name, variant", ("ml.ml_experiment_results",)),),
         oracle_note="The statistics are checked by simulated A/A and known-effect experiments (the trust harness, "
                     "`make trust-harness`), not against this build's truth.",
         charts=("ab_lift",)),
    Card("ml_experiment_decisions",
         predicts="One decision per experiment × treatment variant (ship, do not ship, keep running, inconclusive, "
                  "invalid: SRM or invalid: <reason>) with its reason, by the pre-registered rule: the primary "
                  "metric's always-valid test over the daily looks (Holm across variants), the fixed-horizon test at "
                  "the planned size, and the guardrails' non-inferiority tests.",
         inputs="`fct_experiment_daily_looks`, `stg_shop__experiments` (with its optional registry overrides) and "
                "the seed `experiment_registry`",
         window="experiments",
         metrics=(Section("Decisions",
                          "select experiment_id, variant, decision, decision_reason, analysis_mode, "
                          "planned_users_per_arm, control_users, variant_users, decided_at "
                          "from ml.ml_experiment_decisions order by experiment_id, variant",
                          ("ml.ml_experiment_decisions",)),),
         oracle_note="The decision code is checked end to end by the trust harness (`make trust-harness`) on "
                     "simulated daily looks, not against this build's truth."),
    Card("ml_customer_segments_fit",
         predicts="Behavioural segments of the buyers (k-means on standardised RFM and behaviour features, k chosen "
                  "by the criterion the run row states), named from their profiles.",
         inputs="recency, frequency, monetary value, tenure, order value, sessions, discounted and online order "
                "shares (`dim_customer_rfm`, `fct_customer_features`)",
         window="all_data",
         metrics=(Section("Run", "select status, k, silhouette, message from ml.ml_customer_segments_fit "
                                 "where record_type = 'run'", ("ml.ml_customer_segments_fit",)),
                  Section("k tried", "select k, is_chosen, inertia, silhouette, calinski_harabasz, davies_bouldin "
                                     "from ml.ml_customer_segments_fit where record_type = 'k_score' order by k",
                          ("ml.ml_customer_segments_fit",)),
                  Section("Segments", "select segment_id, segment_name, size, share, recency_days, frequency, "
                                      "monetary, avg_order_value from ml.ml_customer_segments_fit "
                                      "where record_type = 'profile' order by segment_id",
                          ("ml.ml_customer_segments_fit",))),
         oracle_note="Unsupervised; no oracle comparison.", charts=("rfm_segments",)),
)

_WINDOW_TEXT = {
    "holdout_decisions": "Trained on the earlier settled decisions of `fct_decision_ledger` (reward known), "
                         "evaluated on the latest ones by decision time (the holdout):",
    "experiments": "The experiments' exposures with a closed attribution window; out-of-fold (cross-fitted) "
                   "predictions of every exposure measure the models:",
    "order_lines": "Every order line up to the end of the data.",
    "closed_contacts": "Promotion contacts whose attribution window has closed.",
    "all_data": "Every customer's history up to the last day of data.",
}


_EXPERIMENT_WINDOW = Section(
    "Training exposures per experiment",
    "select experiment_id, count(*) as exposures, min(assigned_at) as first_assigned_at, "
    "max(window_ends_at) as last_window_ends_at from marts.fct_uplift_training_exposures "
    "group by all order by experiment_id", ("marts.fct_uplift_training_exposures",))
_SNAPSHOT_TABLE = "intermediate.int_snapshot_dates"


def tables_read() -> set[str]:
    """Every warehouse table the cards read (the docs exposure in models/_exposures.yml lists them)."""
    tables = {_SNAPSHOT_TABLE, *_BANDIT_WINDOW.tables, *_EXPERIMENT_WINDOW.tables}
    for card in CARDS:
        for section in (*card.metrics, *card.oracle, *card.features):
            tables.update(section.tables)
    return tables


# ---------------------------------------------------------------------------------------------- formatting
def format_value(value) -> str:
    """How a card prints a value (tests format the warehouse's values the same way to find them)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, pd.Timestamp | dt.datetime):
        value = pd.Timestamp(value)
        return f"{value:%Y-%m-%d}" if value == value.normalize() else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # no template syntax or table breaks from data into the docs page
    text = text.replace("|", "\\|").replace("{", "&#123;").replace("}", "&#125;").replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def markdown_table(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    if frame.empty:
        return "_No rows in this build._"
    shown = frame.head(max_rows)
    lines = ["| " + " | ".join(str(c) for c in shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(format_value(v.item() if hasattr(v, "item") else v) for v in row) + " |")
    if len(frame) > max_rows:
        lines.append(f"\n_{len(frame) - max_rows} more rows in the table._")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- reading
class _Reader:
    """Runs the sections' queries on one read-only connection, recording what was missing."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
        self.present = {r[0] for r in rows}

    def section(self, section: Section) -> str:
        missing = [t for t in section.tables if t not in self.present]
        body = f"**{section.title}**" + (f" {section.note}" if section.note else "") + "\n\n"
        if missing:
            return body + f"_Not in this warehouse: `{'`, `'.join(missing)}` was not built._"
        try:
            frame = self.con.execute(section.sql).df()
        except duckdb.Error as e:
            return body + f"_Could not be read: {format_value(str(e).splitlines()[0])}_"
        return body + markdown_table(frame)

    def snapshot_window(self) -> str:
        table = _SNAPSHOT_TABLE
        if table not in self.present:
            return "_`int_snapshot_dates` is not in this warehouse._"
        rows = self.con.execute(f"select snapshot_role, feature_date, label_end_date, last_data_date from {table}"
                                ).df().set_index("snapshot_role")
        if "train" not in rows.index or "score" not in rows.index:
            return "_No snapshot dates in this build._"
        train, score = rows.loc["train"], rows.loc["score"]
        return (f"Refitted on features computed from the data before **{format_value(train['feature_date'])}** "
                f"with labels from **{format_value(train['feature_date'])}** up to (excluding) "
                f"**{format_value(train['label_end_date'])}**; scores the customers with features from all data up "
                f"to **{format_value(score['last_data_date'])}** (score snapshot "
                f"{format_value(score['feature_date'])}). The classifiers are compared out of time: fitted on the "
                f"snapshot 90 days before the refit cutoff, chosen and thresholded on the one 60 days before, and "
                f"reported on the one 30 days before (the cutoffs are in the training run below).")

    def window(self, card: Card) -> str:
        if card.window == "snapshot":
            return self.snapshot_window()
        text = _WINDOW_TEXT[card.window]
        if card.window == "holdout_decisions":
            return text + "\n\n" + self.section(_BANDIT_WINDOW)
        if card.window == "experiments":
            return text + "\n\n" + self.section(_EXPERIMENT_WINDOW)
        return text


# ---------------------------------------------------------------------------------------------- cards
def render_card(reader: _Reader, card: Card, chart_names: set[str] | None = None) -> str:
    """The markdown of one card (without the docs block tags)."""
    inputs = card.inputs_from() if card.inputs_from else card.inputs
    parts = [f"#### Model card: `{card.model}`",
             f"**Predicts / produces.** {card.predicts}",
             f"**Inputs.** {inputs}.",
             f"**Data window.** {reader.window(card)}"]
    for section in card.features:
        parts.append(reader.section(section))
    parts.append("##### Metrics")
    parts.extend(reader.section(s) for s in card.metrics)
    parts.append("##### Against the simulated truth")
    if card.oracle:
        truth_tables = {t for s in card.oracle for t in s.tables}
        if not truth_tables & reader.present:
            parts.append("_No oracle tables in this warehouse (real data has no ground truth)._")
        else:
            parts.extend(reader.section(s) for s in card.oracle)
    if card.oracle_note:
        parts.append(card.oracle_note)
    for chart in card.charts:
        if chart_names is None or chart in chart_names:
            parts.append(f"![{chart}]({DOCS_LINK_PREFIX}/{chart}.png)")
        else:
            parts.append(f"_Chart `{chart}` was not drawn for this build (its tables are missing or empty)._")
    return "\n\n".join(parts)


def _block(name: str, body: str) -> str:
    return f"{{% docs model_card_{name} %}}\n{body}\n{{% enddocs %}}\n"


def build_model_cards(warehouse: str | Path, chart_names: set[str] | None = None) -> dict[str, str]:
    """{model: card markdown} for every card, read on one short read-only connection.

    ``chart_names``: the charts that were drawn (None: link every chart the card names).
    """
    warehouse = Path(warehouse)
    with read_only(warehouse) as con:
        reader = _Reader(con)
        header = f"_Measured on the warehouse `{warehouse.name}` by `retail-lift docs-assets`._"
        return {card.model: render_card(reader, card, chart_names) + "\n\n" + header for card in CARDS}


def write_model_cards(warehouse: str | Path, out_path: str | Path = DEFAULT_CARDS_PATH,
                      chart_names: set[str] | None = None) -> Path:
    """Write the measured cards as one docs-block file (see the module docstring for where it goes)."""
    cards = build_model_cards(warehouse, chart_names)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = ("<!-- Generated by `retail-lift docs-assets` from the built warehouse; do not edit. -->\n\n"
            + "\n".join(_block(model, body) for model, body in cards.items()))
    out_path.write_text(text)
    return out_path


def placeholder_text() -> str:
    """The committed placeholder file: one neutral block per card, so that a fresh clone parses."""
    return ("<!-- Placeholders of the model cards, parsed when RETAIL_LIFT_MODEL_CARDS_DIR is not set. The measured "
            "cards are written by `retail-lift docs-assets` (make docs) to target/model_cards/ "
            "(see retail_lift/reports/model_cards.py). Regenerate this file with "
            "`python -m retail_lift.reports.model_cards`. -->\n\n"
            + "\n".join(_block(card.model, f"#### Model card: `{card.model}`\n\n{PLACEHOLDER_TEXT}")
                        for card in CARDS))


def write_placeholder_cards(path: str | Path = PLACEHOLDER_PATH) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(placeholder_text())
    return path


if __name__ == "__main__":
    print(f"wrote {write_placeholder_cards()}")
