"""A/B experiment statistics over sufficient statistics.

The warehouse computes counts and sums in SQL (users, conversions, ``sum y``, ``sum y**2``,
``sum x``, ``sum x**2``, ``sum x*y`` per variant); these pure functions do the inference.

Frequentist, fixed horizon
    :func:`two_proportion_test`, :func:`welch_test`, :func:`cuped` (variance reduction).
Bayesian
    :func:`bayesian_proportion_test` (exact P(B > A) and expected losses).
Sequential (valid under continuous monitoring)
    :func:`msprt_test` (proportions; alias :func:`sequential_test`), :func:`msprt_means_test`,
    :func:`msprt_from_estimates` – the normal-mixture mSPRT of Johari et al.
Checks and corrections
    :func:`srm_test`, :func:`holm`, :func:`benjamini_hochberg`.
Planning
    :func:`sample_size_proportions`, :func:`power_proportions`, :func:`sample_size_means`,
    :func:`power_means`.
Decision
    :func:`decide` – the documented per-metric ship / do not ship / keep running / invalid: SRM rule;
    :func:`decide_variants` / :func:`decide_experiments` – one pre-registered decision per experiment ×
    variant over the daily looks (:mod:`.verdicts`), from the registry (:mod:`.registry`:
    :func:`load_registry_yaml`, :func:`load_registry_csv`, :func:`registry_from_records`,
    :func:`apply_experiment_overrides`, :func:`default_spec`).
Trust harness
    :func:`run_trust_harness`, :func:`write_harness_report` (in :mod:`.harness`): simulated daily
    looks in the shape of ``fct_experiment_daily_looks`` through :func:`decide_experiments` and
    :func:`~retail_lift.experiments.analysis.analyze_experiments` (false ship, false "do not ship",
    power, coverage, SRM detection, per scenario with Monte Carlo standard errors).

Conventions: variant ``a`` is control and ``b`` treatment; effects are ``b - a`` (absolute) and
``b / a - 1`` (relative). Frequentist and sequential functions broadcast over NumPy arrays (one
element per experiment) and return Python scalars for scalar inputs. Every result is a frozen
dataclass with ``.to_dict()``. Invalid inputs raise ``ValueError`` naming the argument.
"""

from .bayesian import BayesianResult, bayesian_proportion_test, prob_beta_greater
from .cuped import CupedResult, CupedStats, cuped
from .decision import DO_NOT_SHIP, INVALID_SRM, KEEP_RUNNING, SHIP, Decision, decide
from .frequentist import TwoProportionResult, WelchResult, two_proportion_test, welch_test
from .harness import run_trust_harness, write_harness_report
from .multiple_testing import benjamini_hochberg, holm
from .power import power_means, power_proportions, sample_size_means, sample_size_proportions
from .registry import (
    ExperimentSpec,
    MetricSpec,
    apply_experiment_overrides,
    default_spec,
    load_registry_csv,
    load_registry_yaml,
    msprt_sample_size,
    registry_for,
    registry_from_records,
)
from .sequential import MsprtResult, msprt_from_estimates, msprt_means_test, msprt_test, sequential_test
from .srm import SrmResult, srm_test
from .verdicts import (
    INCONCLUSIVE,
    ArmLooks,
    ExperimentLooks,
    VariantDecision,
    decide_experiments,
    decide_variants,
    parse_planned_split,
)

__all__ = [
    "INCONCLUSIVE",
    "ArmLooks",
    "ExperimentLooks",
    "ExperimentSpec",
    "MetricSpec",
    "VariantDecision",
    "apply_experiment_overrides",
    "decide_experiments",
    "decide_variants",
    "default_spec",
    "load_registry_csv",
    "load_registry_yaml",
    "msprt_sample_size",
    "parse_planned_split",
    "registry_for",
    "registry_from_records",
    "BayesianResult",
    "CupedResult",
    "CupedStats",
    "DO_NOT_SHIP",
    "Decision",
    "INVALID_SRM",
    "KEEP_RUNNING",
    "MsprtResult",
    "SHIP",
    "SrmResult",
    "TwoProportionResult",
    "WelchResult",
    "bayesian_proportion_test",
    "benjamini_hochberg",
    "cuped",
    "decide",
    "holm",
    "msprt_from_estimates",
    "msprt_means_test",
    "msprt_test",
    "power_means",
    "power_proportions",
    "prob_beta_greater",
    "run_trust_harness",
    "sample_size_means",
    "sample_size_proportions",
    "sequential_test",
    "srm_test",
    "two_proportion_test",
    "welch_test",
    "write_harness_report",
]
