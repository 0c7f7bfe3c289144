"""Metrics as code: the definitions file is read, validated with errors naming file, row and column, and
drives the registry's KNOWN_METRICS."""

import csv
import dataclasses

import pytest

from retail_lift.experiments.metrics import METRICS_SEED, MetricDefinition, load_metric_definitions
from retail_lift.experiments.registry import KNOWN_METRICS, registry_from_records

HEADER = ["metric_name", "label", "metric_type", "numerator", "denominator", "covariate", "covariate_denominator",
          "winsorize_percentile", "higher_is_better", "description"]
GOOD = {"metric_name": "aov", "label": "AOV", "metric_type": "ratio", "numerator": "revenue",
        "denominator": "orders", "covariate": "pre_revenue", "covariate_denominator": "pre_orders",
        "winsorize_percentile": "0.99", "higher_is_better": "true", "description": "d"}


def write(tmp_path, rows, header=HEADER):
    p = tmp_path / "experiment_metrics.csv"
    with p.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return p


def test_seed_is_read_and_typed():
    defs = load_metric_definitions()
    assert set(defs) >= {"conversion_rate", "revenue_per_user", "add_to_cart_rate", "average_order_value",
                         "revenue_per_session"}
    aov = defs["average_order_value"]
    assert isinstance(aov, MetricDefinition) and aov.is_ratio
    assert (aov.numerator, aov.denominator, aov.covariate, aov.covariate_denominator) == (
        "revenue", "orders", "pre_revenue", "pre_orders")
    assert defs["conversion_rate"].winsorize_percentile is None
    assert defs["revenue_per_user"].winsorize_percentile == pytest.approx(0.999)
    with pytest.raises(dataclasses.FrozenInstanceError):
        aov.metric_type = "mean"
    assert load_metric_definitions(METRICS_SEED) == defs


def test_known_metrics_derive_from_the_seed():
    assert KNOWN_METRICS == {n: d.metric_type for n, d in load_metric_definitions().items()}
    assert KNOWN_METRICS["average_order_value"] == "ratio"
    spec = registry_from_records([{"experiment_id": "e", "metric_name": "average_order_value"}])["e"]
    assert spec.primary.metric_type == "ratio"


@pytest.mark.parametrize("change, column, text", [
    ({"metric_type": "median"}, "metric_type", "must be one of proportion, mean, ratio"),
    ({"numerator": "profit"}, "numerator", "not an in-window measure"),
    ({"denominator": ""}, "denominator", "needs a denominator"),
    ({"denominator": "pre_orders"}, "denominator", "not an in-window measure"),
    ({"covariate": "revenue"}, "covariate", "not a pre-period measure"),
    ({"covariate_denominator": ""}, "covariate_denominator", "needs a covariate_denominator"),
    ({"winsorize_percentile": "99"}, "winsorize_percentile", "must lie in (0.5, 1)"),
    ({"winsorize_percentile": "high"}, "winsorize_percentile", "expected a number"),
    ({"higher_is_better": "maybe"}, "higher_is_better", "expected true or false"),
    ({"metric_name": "Bad Name"}, "metric_name", "lower case"),
    ({"metric_type": "mean", "covariate_denominator": ""}, "denominator", "only ratio metrics"),
    ({"metric_type": "proportion", "numerator": "revenue", "denominator": "", "covariate_denominator": ""},
     "numerator", "0/1 measure"),
    ({"metric_type": "proportion", "numerator": "converted", "denominator": "", "covariate_denominator": ""},
     "winsorize_percentile", "never capped"),
])
def test_bad_rows_name_file_row_and_column(tmp_path, change, column, text):
    p = write(tmp_path, [dict(GOOD, metric_name="ok"), {**GOOD, **change}])
    with pytest.raises(ValueError) as e:
        load_metric_definitions(p)
    msg = str(e.value)
    assert "experiment_metrics.csv: row 2" in msg and f"column {column!r}" in msg and text in msg


def test_duplicate_and_unknown_columns(tmp_path):
    with pytest.raises(ValueError, match=r"row 2, column 'metric_name': 'aov' defined twice"):
        load_metric_definitions(write(tmp_path, [GOOD, GOOD]))
    with pytest.raises(ValueError, match="unknown column"):
        load_metric_definitions(write(tmp_path, [GOOD], header=[*HEADER, "owner"]))
    with pytest.raises(ValueError, match="does not exist"):
        load_metric_definitions(tmp_path / "nope.csv")


def test_a_mean_and_a_proportion_parse(tmp_path):
    defs = load_metric_definitions(write(tmp_path, [
        {"metric_name": "rpu", "metric_type": "mean", "numerator": "revenue", "covariate": "pre_revenue",
         "winsorize_percentile": "0.999", "higher_is_better": "false"},
        {"metric_name": "conv", "metric_type": "proportion", "numerator": "converted"}]))
    assert defs["rpu"] == MetricDefinition("rpu", "rpu", "mean", "revenue", None, "pre_revenue", None, 0.999,
                                           False, "")
    assert not defs["conv"].has_covariate and defs["conv"].higher_is_better


def test_the_docs_table_of_the_metric_definitions_is_generated_from_the_seed():
    from pathlib import Path

    from retail_lift.experiments.metrics import METRICS_SEED, load_metric_definitions, metric_definitions_markdown

    committed = (METRICS_SEED.parents[1] / "docs" / "experiments" / "_metric_definitions.md").read_text()
    defs = load_metric_definitions()
    assert committed == "{% docs experiment_metric_definitions %}\n" + metric_definitions_markdown(defs) \
        + "\n{% enddocs %}\n", ("docs/experiments/_metric_definitions.md is out of date: run "
                                "retail_lift.experiments.metrics.write_metric_docs on it")
    for name, d in defs.items():  # every metric and its label are in the table
        assert f"`{name}` | {d.label} |" in committed
    assert Path(METRICS_SEED).name == "experiment_metrics.csv"
