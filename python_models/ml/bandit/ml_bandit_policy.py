"""The active policy version's arm probabilities for every customer's latest decision context
(retail_lift.tables.bandit.ml_bandit_policy; no training: the version is loaded from ml_bandit_published_policy)."""

from retail_lift.tables.bandit import BanditPolicyConfig, ml_bandit_policy


def model(dbt, session):
    dbt.config(materialized="table")
    # no settings (BanditPolicyConfig is empty)
    return ml_bandit_policy(
        {"ml_bandit_published_policy": dbt.ref("ml_bandit_published_policy"),
         "fct_decision_ledger": dbt.ref("fct_decision_ledger")},
        BanditPolicyConfig(),
    )
