"""The simulated world's truth, or its absence: what the evaluation models do without it.

For real data ``retail-lift prepare`` writes the truth tables (truth_customers, truth_customer_arms,
truth_exposures) EMPTY, so every model that measures against the truth (python_models/evaluation/*,
models/marts/evaluation/*) builds empty with a note saying why. "No truth" is detected explicitly: ALL
the truth tables are empty. When only some are, the evaluation runs and raises on what is missing (a
broken simulated world is an error, not a reason to build empty).
"""

from __future__ import annotations

import pandas as pd

#: Why an evaluation table is empty (the models' descriptions say the same).
NO_TRUTH_NOTE = ("no simulated truth: the simulated world's truth tables (customers, customer arms, exposures) "
                 "are empty, as `retail-lift prepare` writes them for real data; this evaluation measures "
                 "against the simulated world's true effects, so it builds empty")

#: The declared columns (and pandas dtypes) of the Python evaluation models, for their empty frames.
#: tests/python/test_truth.py checks them against the models' yml.
EVALUATION_SCHEMAS: dict[str, dict[str, str]] = {
    "ml_eval_uplift_vs_truth": {
        "experiment_id": "string", "promotion_id": "string", "learner": "string", "evaluation_method": "string",
        "n_treated": "Int64", "n_control": "Int64", "model_qini": "float64", "oracle_qini": "float64",
        "qini_oracle_ratio": "float64", "ratio_ci_low": "float64", "ratio_ci_high": "float64",
        "true_gain_ratio": "float64", "pearson_correlation": "float64", "spearman_correlation": "float64",
        "mean_predicted_uplift": "float64", "mean_true_uplift": "float64", "target_ratio": "float64",
        "meets_target": "boolean", "feature_ceiling_kind": "string", "feature_ceiling_qini_ratio": "float64",
        "feature_ceiling_gain_ratio": "float64", "feature_ceiling_r2": "float64",
        "type_revealed_qini_ratio": "float64", "type_revealed_gain_ratio": "float64",
    },
    "ml_eval_targeting_vs_truth": {
        "promotion_id": "string", "experiment_id": "string", "strategy": "string", "k_fraction": "float64",
        "customers_targeted": "Int64", "true_incremental_conversions": "float64",
        "true_incremental_revenue": "float64", "true_discount_cost": "float64", "true_contact_cost": "float64",
        "true_incremental_margin": "float64", "discount_rate": "float64", "contact_cost": "float64",
        "margin_rate": "float64", "margin_vs_propensity": "float64",
        "expected_incremental_conversions": "float64", "expected_incremental_margin": "float64",
    },
    "ml_eval_promotion_plan_vs_truth": {
        "budget_share": "float64", "budget": "float64", "policy": "string", "promotion_id": "string",
        "customers_targeted": "Int64", "targeted_share": "float64", "expected_cost": "float64",
        "expected_incremental_margin": "float64", "true_cost": "float64", "true_incremental_conversions": "float64",
        "true_incremental_margin": "float64", "ratio_to_ceiling": "float64", "ratio_to_oracle": "float64",
        "meets_ceiling_target": "boolean", "beats_baselines": "boolean", "holdout_intervals": "Int64",
        "holdout_coverage": "float64", "holdout_coverage_se": "float64", "holdout_mean_error": "float64",
        "coverage_within_tolerance": "boolean",
    },
    "ml_campaign_oracle_comparison": {
        "strategy": "string", "basis": "string", "promotion_id": "string", "contacts": "Int64",
        "conversions": "float64", "revenue": "float64", "discount_cost": "float64", "cost": "float64",
        "profit": "float64", "roi": "float64", "conversion_rate": "float64",
    },
    "ml_eval_clv_vs_truth": {
        "evaluation": "string", "frequency_bucket": "string", "customers": "Int64",
        "predicted_purchases": "float64", "realised_purchases": "float64", "purchases_error": "float64",
        "predicted_spend_per_purchase": "float64", "realised_spend_per_purchase": "float64",
        "spend_per_purchase_error": "float64", "predicted_spend": "float64", "realised_spend": "float64",
        "spend_error": "float64", "mean_abs_error_purchases": "float64", "target_abs_error": "float64",
        "meets_target": "boolean", "status": "string",
    },
    "ml_predict_oracle_comparison": {
        "classifier": "string", "model": "string", "is_chosen_model": "boolean", "n": "Int64",
        "positives": "Int64", "model_roc_auc": "float64", "oracle_roc_auc": "float64", "auc_ratio": "float64",
        "gini_ratio": "float64", "model_log_loss": "float64", "oracle_log_loss": "float64",
        "model_brier": "float64", "oracle_brier": "float64", "mean_abs_error_vs_true": "float64",
        "target_auc_ratio": "float64", "meets_target": "boolean", "score_rows": "Int64",
        "score_rank_correlation": "float64", "score_mean_abs_error_vs_true": "float64",
    },
}


def _is_empty(relation) -> bool:
    """No row in a dbt Python model's relation (DuckDB or the Spark scorer's), an Arrow table or a frame."""
    if isinstance(relation, pd.DataFrame):
        return relation.empty
    if hasattr(relation, "num_rows"):
        return relation.num_rows == 0
    return relation.limit(1).to_arrow_table().num_rows == 0


def truth_is_absent(*truth_relations) -> bool:
    """True when every truth table given has no row (real data: `retail-lift prepare` writes them empty)."""
    if not truth_relations:
        raise ValueError("truth_is_absent needs the truth tables")
    return all(_is_empty(r) for r in truth_relations)


def empty_evaluation(model_name: str) -> pd.DataFrame:
    """The model's declared columns with their types and no row."""
    schema = EVALUATION_SCHEMAS[model_name]
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in schema.items()})


def truth_row_counts(truth_dir) -> dict[str, int | None]:
    """Rows of each truth table of the contract in ``truth_dir`` (``None`` when its Parquet file is missing).

    Reads only the Parquet footers, so it is instant at any size."""
    from pathlib import Path

    import pyarrow.parquet as pq

    from retail_lift.contract import TRUTH_TABLES

    counts: dict[str, int | None] = {}
    for name in TRUTH_TABLES:
        path = Path(truth_dir) / f"{name}.parquet"
        counts[name] = pq.ParquetFile(path).metadata.num_rows if path.exists() else None
    return counts


def check_can_evaluate(truth_dir, warehouse) -> dict[str, int]:
    """Stop with a clear message unless ``make evaluate`` can run: a built warehouse and the simulated truth.

    ``make evaluate`` builds only the evaluation selector (the nodes downstream of the simulation source) on a
    warehouse already built by ``make build`` or ``dbt build --selector daily``. No truth means every truth
    table is missing or empty, as ``retail-lift prepare`` writes them for bring-your-own-data: the evaluation
    would only rebuild empty tables, so it is refused with the reason. Returns the row counts when it can run.
    """
    from pathlib import Path

    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise ValueError(f"no warehouse at {warehouse}: make evaluate builds the truth evaluation on a warehouse "
                         "that is already built; run `make build` (or `dbt build --selector daily`) first")
    counts = truth_row_counts(truth_dir)
    missing = [name for name, n in counts.items() if n is None]
    if missing and len(missing) < len(counts):
        raise ValueError(f"truth folder {truth_dir} lacks {', '.join(f'{m}.parquet' for m in missing)} "
                         f"(has {', '.join(f'{k}.parquet' for k in counts if k not in missing)}): "
                         "rerun `retail-lift prepare --truth ...` for the simulated world")
    if all(not n for n in counts.values()):
        state = "has none of the truth tables" if missing else "holds only empty truth tables (0 rows each)"
        raise ValueError(f"no simulated truth: {truth_dir} {state}. A bring-your-own-data build (make build "
                         "DATA=folder) has no truth, so there is nothing to evaluate; its daily build is complete "
                         "without it. make evaluate applies to the simulated world (make build without DATA)")
    return {name: int(n) for name, n in counts.items()}
