"""The experiment registry: loaders, defaults, overrides, planned sizes and errors."""

import math

import numpy as np
import pandas as pd
import pytest

from retail_lift.experiments import msprt_from_estimates, sample_size_means, sample_size_proportions
from retail_lift.experiments.registry import (
    DEFAULTS,
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

ROWS = [
    {"experiment_id": "e1", "metric_name": "conversion_rate", "role": "primary", "mde_relative": 0.05,
     "alpha": 0.01, "power": 0.9, "analysis_mode": "fixed", "baseline": 0.1, "max_duration_days": 21},
    {"experiment_id": "e1", "metric_name": "revenue_per_user", "role": "guardrail", "non_inferiority_margin": 0.02},
    {"experiment_id": "e2", "metric_name": "revenue_per_user", "role": "primary"},
]


def test_records_group_into_specs_with_defaults():
    reg = registry_from_records(ROWS)
    e1, e2 = reg["e1"], reg["e2"]
    assert e1.primary == MetricSpec("conversion_rate", "primary", "proportion", True, None)
    assert e1.guardrails == (MetricSpec("revenue_per_user", "guardrail", "mean", True, 0.02),)
    assert (e1.mde_relative, e1.alpha, e1.power, e1.analysis_mode, e1.max_duration_days) == (0.05, 0.01, 0.9,
                                                                                               "fixed", 21)
    assert e2.primary.metric_type == "mean" and e2.guardrails == ()
    assert (e2.mde_relative, e2.alpha, e2.power) == (DEFAULTS["mde_relative"], DEFAULTS["alpha"], DEFAULTS["power"])
    assert e2.analysis_mode == "sequential" and e2.max_duration_days == 28
    with pytest.raises(dataclasses_frozen_error()):
        e1.alpha = 0.5


def dataclasses_frozen_error():
    import dataclasses
    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize("rows, words", [
    ([{"experiment_id": "x", "metric_name": "revenue_per_user", "role": "guardrail"},
      {"experiment_id": "x", "metric_name": "conversion_rate"}],
     ["'x'", "non_inferiority_margin", "row 1"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "alpha": 0.05},
      {"experiment_id": "x", "metric_name": "revenue_per_user", "role": "guardrail", "non_inferiority_margin": 0.1,
       "alpha": 0.1}],
     ["'x'", "'alpha'", "conflicts", "row 1"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate"},
      {"experiment_id": "x", "metric_name": "add_to_cart_rate"}],
     ["'x'", "exactly one primary", "2"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "alpha": 1.5}], ["'x'", "'alpha'", "1.5"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "analysis_mode": "bayes"}],
     ["'analysis_mode'", "bayes"]),
    ([{"experiment_id": "x", "metric_name": "basket_size"}], ["'x'", "metric_type", "basket_size"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "colour": "red"}], ["'x'", "colour"]),
    ([{"metric_name": "conversion_rate"}], ["row 1", "experiment_id"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "non_inferiority_margin": 0.1}],
     ["'x'", "only guardrails"]),
    ([{"experiment_id": "x", "metric_name": "conversion_rate", "baseline": 1.2}], ["'x'", "baseline"]),
])
def test_errors_name_experiment_and_field(rows, words):
    with pytest.raises(ValueError) as e:
        registry_from_records(rows)
    for w in words:
        assert w in str(e.value)


def test_yaml_and_csv_loaders_agree(tmp_path):
    y = tmp_path / "reg.yml"
    y.write_text("""
experiments:
  e1:
    mde_relative: 0.05
    alpha: 0.01
    power: 0.9
    analysis_mode: fixed-horizon
    baseline: 0.1
    max_duration_days: 21
    metrics:
      - {metric_name: conversion_rate, role: primary}
      - {metric_name: revenue_per_user, role: guardrail, non_inferiority_margin: 0.02}
entries:
  - {experiment_id: e2, metric_name: revenue_per_user, role: primary}
""")
    c = tmp_path / "reg.csv"
    cols = ["experiment_id", "metric_name", "role", "non_inferiority_margin", "mde_relative", "alpha", "power",
            "analysis_mode", "baseline", "max_duration_days"]
    pd.DataFrame(ROWS, columns=cols).to_csv(c, index=False)
    assert load_registry_yaml(y) == load_registry_csv(c) == registry_from_records(ROWS)


def test_file_errors_name_the_file(tmp_path):
    c = tmp_path / "bad.csv"
    c.write_text("experiment_id,metric_name,role,alpha\nq,conversion_rate,primary,zero\n")
    with pytest.raises(ValueError, match=r"bad.csv: experiment 'q', field 'alpha' \(row 1\)"):
        load_registry_csv(c)
    y = tmp_path / "bad.yml"
    y.write_text("experiments:\n  q: {alpha: 0.05}\n")
    with pytest.raises(ValueError, match="bad.yml: experiment 'q', field 'metrics'"):
        load_registry_yaml(y)


def test_defaults_for_undeclared_experiments():
    d = default_spec("shop_test")
    assert d.primary.metric_name == "conversion_rate" and d.source == "default"
    assert [(g.metric_name, g.non_inferiority_margin) for g in d.guardrails] == [("revenue_per_user", 0.05)]
    reg = registry_for(["e1", "other"], registry_from_records(ROWS))
    assert reg["e1"].source == "registry" and reg["other"] == default_spec("other")


def test_experiment_table_overrides():
    reg = registry_from_records(ROWS)
    rows = pd.DataFrame({"experiment_id": ["e1", "e3"], "mde_relative": [0.2, np.nan],
                         "analysis_mode": ["sequential", None], "primary_metric": ["revenue_per_user", None],
                         "planned_users_per_arm": [np.nan, 5000]})
    out = apply_experiment_overrides(reg, rows)
    e1 = out["e1"]
    assert e1.mde_relative == 0.2 and e1.analysis_mode == "sequential" and e1.alpha == 0.01
    assert e1.primary.metric_name == "revenue_per_user" and e1.guardrails == ()
    assert e1.source == "registry+experiments table"
    assert out["e3"].planned_users_per_arm() == 5000 and out["e3"].primary.metric_name == "conversion_rate"
    assert out["e2"] == reg["e2"]  # untouched
    with pytest.raises(ValueError, match=r"experiment 'e1', field 'power' \(experiments row 1\)"):
        apply_experiment_overrides(reg, [{"experiment_id": "e1", "power": 2}])
    with pytest.raises(ValueError, match="primary_metric"):
        apply_experiment_overrides(reg, [{"experiment_id": "e1", "primary_metric": "nps"}])


def test_planned_size_stated_fixed_sequential_or_none():
    base = ExperimentSpec("e", MetricSpec("conversion_rate"), mde_relative=0.1, baseline=0.1, analysis_mode="fixed")
    assert base.planned_users_per_arm() == sample_size_proportions(0.1, 0.1) == 14751
    seq = ExperimentSpec("e", MetricSpec("conversion_rate"), mde_relative=0.1, baseline=0.1)
    n_seq = seq.planned_users_per_arm()
    assert n_seq == msprt_sample_size(0.01, math.sqrt(0.09)) and n_seq > 1.5 * 14751
    assert ExperimentSpec("e", MetricSpec("conversion_rate")).planned_users_per_arm() is None
    assert ExperimentSpec("e", MetricSpec("conversion_rate")).planned_users_per_arm(baseline=0.1) == n_seq
    stated = ExperimentSpec("e", MetricSpec("conversion_rate"), planned_users_per_arm_stated=777, baseline=0.1)
    assert stated.planned_users_per_arm() == 777
    mean = ExperimentSpec("e", MetricSpec("revenue_per_user", metric_type="mean"), analysis_mode="fixed",
                          mde_relative=0.1, baseline=5.0, baseline_sd=20.0)
    assert mean.planned_users_per_arm() == sample_size_means(20.0, 0.5)


def test_msprt_sample_size_gives_its_power():
    """At the returned size one look of the mSPRT rejects ~80 % of the time when the effect is delta."""
    delta, sd, alpha = 0.01, 0.3, 0.05
    n = msprt_sample_size(delta, sd, alpha=alpha, power=0.8)
    rng = np.random.default_rng(3)
    v = 2 * sd**2 / n
    est = rng.normal(delta, math.sqrt(v), (40_000, 1))  # one look each
    rate = float(np.mean(msprt_from_estimates(est, np.full_like(est, v), tau=delta, alpha=alpha).p_value < alpha))
    assert abs(rate - 0.8) < 0.01
    v1 = 2 * sd**2 / (0.8 * n)
    est1 = rng.normal(delta, math.sqrt(v1), (40_000, 1))
    assert float(np.mean(msprt_from_estimates(est1, np.full_like(est1, v1), tau=delta).p_value < alpha)) < 0.77
