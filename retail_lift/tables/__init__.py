"""The table layer: one ``(relations, config) -> table`` function per dbt Python model of ``python_models/ml/``.

``retail_lift/tables/<area>.py`` mirrors ``python_models/ml/<area>/``. Each function is named like its dbt
model and takes

* ``relations``: a mapping from the name of each ref the model reads to the relation dbt hands over (a
  DuckDB relation), an Arrow table or a pandas frame (tests);
* ``config``: the model's typed config, a frozen dataclass that holds **the** defaults of the model. The dbt
  model reads each key with a literal ``dbt.config.get("key")`` and builds the config with
  :func:`from_settings` (a key left unset, ``None``, takes the dataclass default); its yml ``config:`` block
  states the same defaults, and ``tests/python/test_tables.py`` checks both for every model of
  :data:`MODEL_CONFIGS`;
* ``store``: the model registry (:class:`retail_lift.registry.ModelRegistry`, opened by the dbt model with
  :func:`model_store` beside the warehouse file): the classifiers (:mod:`retail_lift.tables.predict`), the
  uplift run (:mod:`retail_lift.tables.uplift`), the CLV parameters (:mod:`retail_lift.tables.customers`),
  the segments and the cross-sell rules train once and score every build with it (:data:`REGISTERED_MODELS`);
  the bandit models that train (:mod:`retail_lift.tables.bandit`) fit the candidates and rerun the off-policy
  evaluation only when new decisions arrived (or the settings changed) and otherwise republish the registered
  tables; the models that do not train (campaign, experiments, scores) take no store (``None``).

The functions wire relations and configs to the model families; they never read the truth (that is
:mod:`retail_lift.evaluation`). Every dbt Python model of ``python_models/ml/`` has its table function here
(areas ``bandit``, ``campaign``, ``crosssell``, ``customers``, ``experiments``, ``predict``, ``segments``,
``uplift``).
"""

from __future__ import annotations

from collections.abc import Mapping

from retail_lift.settings import from_settings, plain_defaults
from retail_lift.tables._config import model_store, read_relation
from retail_lift.tables.bandit import (
    BanditHoldoutProbabilitiesConfig,
    BanditPolicyConfig,
    BanditPolicyEvaluationConfig,
    BanditPublishedPolicyConfig,
)
from retail_lift.tables.campaign import (
    CampaignBroadcastVsTargetedConfig,
    CampaignFatigueConfig,
    CampaignFatigueCurveConfig,
    CampaignTargetListConfig,
    PlanVsHoldoutConfig,
    PromotionPlanAssignmentsConfig,
    PromotionPlanConfig,
    PromotionPlanFrontierConfig,
    PromotionPlanPromotionsConfig,
)
from retail_lift.tables.crosssell import (
    CrosssellEvaluationConfig,
    CrosssellRecommendationsConfig,
    CrosssellRulesConfig,
)
from retail_lift.tables.customers import CustomerLifetimeValueConfig, CustomerLifetimeValueParamsConfig
from retail_lift.tables.experiments import ExperimentDecisionsConfig, ExperimentResultsConfig
from retail_lift.tables.predict import (
    CategoryPropensityFitConfig,
    FacebookAcquisitionFitConfig,
    PurchasePropensityFairnessConfig,
    PurchasePropensityFitConfig,
    ReturningCustomerFitConfig,
)
from retail_lift.tables.segments import CustomerSegmentsFitConfig
from retail_lift.tables.uplift import UpliftRunConfig

#: the typed config of every dbt Python model moved to this layer, by model name
MODEL_CONFIGS: Mapping[str, type] = {
    "ml_category_propensity_fit": CategoryPropensityFitConfig,
    "ml_customer_segments_fit": CustomerSegmentsFitConfig,
    "ml_uplift_run": UpliftRunConfig,
    "ml_bandit_holdout_probabilities": BanditHoldoutProbabilitiesConfig,
    "ml_bandit_policy_evaluation": BanditPolicyEvaluationConfig,
    "ml_bandit_published_policy": BanditPublishedPolicyConfig,
    "ml_bandit_policy": BanditPolicyConfig,
    "ml_experiment_decisions": ExperimentDecisionsConfig,
    "ml_experiment_results": ExperimentResultsConfig,
    "ml_facebook_acquisition_fit": FacebookAcquisitionFitConfig,
    "ml_purchase_propensity_fairness": PurchasePropensityFairnessConfig,
    "ml_purchase_propensity_fit": PurchasePropensityFitConfig,
    "ml_returning_customer_fit": ReturningCustomerFitConfig,
    "ml_crosssell_rules": CrosssellRulesConfig,
    "ml_crosssell_recommendations": CrosssellRecommendationsConfig,
    "ml_crosssell_evaluation": CrosssellEvaluationConfig,
    "ml_campaign_target_list": CampaignTargetListConfig,
    "ml_campaign_broadcast_vs_targeted": CampaignBroadcastVsTargetedConfig,
    "ml_campaign_fatigue": CampaignFatigueConfig,
    "ml_campaign_fatigue_curve": CampaignFatigueCurveConfig,
    "ml_promotion_plan": PromotionPlanConfig,
    "ml_promotion_plan_promotions": PromotionPlanPromotionsConfig,
    "ml_promotion_plan_frontier": PromotionPlanFrontierConfig,
    "ml_promotion_plan_assignments": PromotionPlanAssignmentsConfig,
    "ml_plan_vs_holdout": PlanVsHoldoutConfig,
    "ml_customer_lifetime_value": CustomerLifetimeValueConfig,
    "ml_customer_lifetime_value_params": CustomerLifetimeValueParamsConfig,
}


#: the dbt models that train with the model registry (train once, score every build; retail-lift train)
REGISTERED_MODELS: tuple[str, ...] = ("ml_purchase_propensity_fit", "ml_category_propensity_fit",
                                      "ml_returning_customer_fit", "ml_facebook_acquisition_fit", "ml_uplift_run",
                                      "ml_customer_lifetime_value_params", "ml_customer_segments_fit",
                                      "ml_crosssell_rules", "ml_bandit_holdout_probabilities",
                                      "ml_bandit_policy_evaluation", "ml_bandit_published_policy")


def defaults(model: str) -> dict:
    """The defaults of ``model``'s config as plain values (what its yml ``config:`` block states)."""
    return plain_defaults(MODEL_CONFIGS[model])


__all__ = ["MODEL_CONFIGS", "REGISTERED_MODELS", "defaults", "from_settings", "model_store", "read_relation"]
