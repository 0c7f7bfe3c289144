"""Fairness of the purchase-propensity targeting decision by gender and age band (holdout customers).

The selection-rate and true-positive-rate gaps carry percentile bootstrap intervals (customers resampled
within each group, seeded); below the minimum group size a gap's status is "too few" and its value NULL.
"""

from retail_lift.pipelines import fairness_table


def model(dbt, session):
    dbt.config(materialized="table")
    attributes = tuple(dbt.config.get("attributes", ["gender", "age_band"]))
    # only the holdout rows and the columns fairness_table reads (the fit table also holds every score row)
    fit = (dbt.ref("ml_purchase_propensity_fit").filter("record_type = 'holdout'")
           .project("record_type, is_chosen_model, customer_id, model, label, is_above_threshold")
           .to_arrow_table().to_pandas())
    customers = dbt.ref("dim_customers").project(
        ", ".join(f'"{c}"' for c in dict.fromkeys(["customer_id", *attributes]))).to_arrow_table().to_pandas()
    return fairness_table(
        fit,
        customers,
        attributes=attributes,
        threshold=float(dbt.config.get("fairness_threshold", 0.1)),
        min_group_size=int(dbt.config.get("min_group_size", 30)),
        n_resamples=int(dbt.config.get("bootstrap_resamples", 1000)),
        ci_level=float(dbt.config.get("ci_level", 0.95)),
        random_state=int(dbt.config.get("bootstrap_seed", 0)),
    )
