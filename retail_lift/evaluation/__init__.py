"""The evaluation layer: the only package that reads the simulated world's truth or :mod:`retail_lift.world`.

The model families (:mod:`retail_lift.uplift`, :mod:`retail_lift.bandit`, :mod:`retail_lift.predict`, ...)
keep only algorithms; what measures them against the truth lives here, one module per area of
``python_models/evaluation/`` (the dbt models there import from this package):

- :mod:`~retail_lift.evaluation.truth`: "no truth" (real data: every truth table empty) and the empty
  frames the evaluation models build then (was ``retail_lift.truth``);
- :mod:`~retail_lift.evaluation.uplift`: uplift and targeting against the true effects
  (``ml_eval_uplift_vs_truth``, ``ml_eval_targeting_vs_truth``; was in ``retail_lift.uplift.pipeline``);
- :mod:`~retail_lift.evaluation.uplift_limits`: the feature ceiling and the type-revealed refit
  (was ``retail_lift.uplift.limits``);
- :mod:`~retail_lift.evaluation.predict`: classifiers and campaign against the true purchase
  probabilities (``ml_predict_oracle_comparison``, ``ml_campaign_oracle_comparison``; was in
  ``retail_lift.pipelines``);
- :mod:`~retail_lift.evaluation.clv`: CLV against a holdout and the truth (``ml_eval_clv_vs_truth``; was
  ``retail_lift.clv_evaluation``);
- :mod:`~retail_lift.evaluation.plan`: the promotion plan at several budgets against the plans of the
  feature-ceiling and the true uplift and two single-promotion baselines, and the coverage of its holdout
  interval over re-drawn holdouts (``ml_eval_promotion_plan_vs_truth``);
- :mod:`~retail_lift.evaluation.bandit_simulation`: the closed-loop simulation of the promotion policies
  and the simulated ledger of the off-policy tests (was ``retail_lift.bandit.simulate``), and
  :mod:`~retail_lift.evaluation.cli` its command ``retail-lift simulate``. Not imported here: they
  rebuild the world in memory.

Each dbt model of ``python_models/evaluation/`` has one frozen dataclass config that holds **the** defaults of
its settings (:data:`MODEL_CONFIGS`), as the table layer's models do: the model reads each key with a literal
``dbt.config.get("key")`` and builds the config with :func:`from_settings` (an unset key takes the default, an
unknown key or a bad value is an error naming the model and the key); the config's ``kwargs`` are the
keywords of the evaluation function, whose own defaults are the config's. Its yml ``config:`` block states the
same defaults (``tests/python/test_tables.py`` checks both, for the models of both layers).

``make lint`` (import-linter, ``[tool.importlinter]`` in pyproject.toml) keeps the families from
importing this package or the world, and this package from importing :mod:`retail_lift.tables` (the config
helpers both use are :mod:`retail_lift.settings`).
"""

from collections.abc import Mapping

from retail_lift.evaluation.clv import EvalClvVsTruthConfig, clv_evaluation
from retail_lift.evaluation.plan import (
    EvalPromotionPlanVsTruthConfig,
    evaluate_plan_against_truth,
    promotion_plan_vs_truth,
)
from retail_lift.evaluation.predict import (
    CampaignOracleComparisonConfig,
    PredictOracleComparisonConfig,
    campaign_oracle_comparison,
    predict_oracle_comparison,
)
from retail_lift.evaluation.truth import EVALUATION_SCHEMAS, NO_TRUTH_NOTE, empty_evaluation, truth_is_absent
from retail_lift.evaluation.uplift import (
    EvalTargetingVsTruthConfig,
    EvalUpliftVsTruthConfig,
    evaluate_targeting_against_truth,
    evaluate_uplift_against_truth,
)
from retail_lift.evaluation.uplift_limits import LIMIT_COLUMNS, ceiling_uplift, uplift_limits
from retail_lift.settings import from_settings, plain_defaults

#: the typed config of every dbt Python model of python_models/evaluation/, by model name
MODEL_CONFIGS: Mapping[str, type] = {
    "ml_eval_clv_vs_truth": EvalClvVsTruthConfig,
    "ml_predict_oracle_comparison": PredictOracleComparisonConfig,
    "ml_campaign_oracle_comparison": CampaignOracleComparisonConfig,
    "ml_eval_uplift_vs_truth": EvalUpliftVsTruthConfig,
    "ml_eval_targeting_vs_truth": EvalTargetingVsTruthConfig,
    "ml_eval_promotion_plan_vs_truth": EvalPromotionPlanVsTruthConfig,
}


def defaults(model: str) -> dict:
    """The defaults of ``model``'s config as plain values (what its yml ``config:`` block states)."""
    return plain_defaults(MODEL_CONFIGS[model])


__all__ = [
    "EVALUATION_SCHEMAS",
    "LIMIT_COLUMNS",
    "MODEL_CONFIGS",
    "NO_TRUTH_NOTE",
    "CampaignOracleComparisonConfig",
    "EvalClvVsTruthConfig",
    "EvalPromotionPlanVsTruthConfig",
    "EvalTargetingVsTruthConfig",
    "EvalUpliftVsTruthConfig",
    "PredictOracleComparisonConfig",
    "campaign_oracle_comparison",
    "ceiling_uplift",
    "clv_evaluation",
    "defaults",
    "empty_evaluation",
    "evaluate_plan_against_truth",
    "evaluate_targeting_against_truth",
    "evaluate_uplift_against_truth",
    "from_settings",
    "predict_oracle_comparison",
    "promotion_plan_vs_truth",
    "truth_is_absent",
    "uplift_limits",
]
