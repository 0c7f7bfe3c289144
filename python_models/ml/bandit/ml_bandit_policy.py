"""The active policy version's arm probabilities for every customer's latest decision context
(retail_lift.bandit.publish; no training: the version is loaded from ml_bandit_published_policy)."""

from retail_lift.bandit.publish import LEDGER_COLUMNS, customer_probabilities, empty_table


def model(dbt, session):
    dbt.config(materialized="table")
    published = dbt.ref("ml_bandit_published_policy").to_arrow_table().to_pandas()
    if published.empty:
        return empty_table("customer_probabilities")
    ledger = dbt.ref("fct_decision_ledger").project(", ".join(LEDGER_COLUMNS)).to_arrow_table().to_pandas()
    return customer_probabilities(published, ledger)
