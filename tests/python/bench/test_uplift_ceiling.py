"""bench/uplift_ceiling.py: the table of the model's ratio next to its limits, and the command end to end
on a small warehouse file (the measurement itself is tested in ``uplift/test_uplift_limits.py``)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from synthetic_uplift import one_arm_world

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "uplift_ceiling.py"


@pytest.fixture(scope="module")
def ceiling():
    spec = importlib.util.spec_from_file_location("uplift_ceiling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arms(ratio: float = 0.5) -> pd.DataFrame:
    return pd.DataFrame({"experiment_id": ["exp"], "promotion_id": ["arm"], "qini_oracle_ratio": [ratio]})


def test_the_table_carries_the_model_ratio_and_both_ceilings(ceiling):
    training, truth, _ = one_arm_world(hidden=False)
    table = ceiling.ceiling_table(training, truth, _arms(0.5))
    row = table.iloc[0]
    assert list(table.columns[:6]) == ["experiment_id", "promotion_id", "n_exposures", "n_treated", "oracle_qini",
                                       "model_qini_ratio"]
    assert row["model_qini_ratio"] == 0.5 and row["n_exposures"] == 4000
    assert row["ceiling_boosting_gain_ratio"] > 0.97 and row["ceiling_linear_gain_ratio"] > 0.97


def test_an_arm_the_evaluation_does_not_list_is_not_measured(ceiling):
    training, truth, _ = one_arm_world(hidden=False)
    other = _arms().assign(promotion_id="another_arm")
    with pytest.raises(ValueError, match="exp / another_arm"):
        ceiling.ceiling_table(training, truth, other)


def test_the_command_writes_json_and_markdown(ceiling, tmp_path):
    training, truth, customers = one_arm_world(hidden=True)
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        for schema, name, frame in (
            ("marts", "fct_uplift_training_exposures", training),
            ("evaluation", "ml_eval_uplift_vs_truth", _arms(0.01)),
            ("marts", "fct_experiment_srm", pd.DataFrame({
                "experiment_id": ["exp", "exp"], "variant": ["control", "arm"], "observed_users": [2000, 2000],
                "planned_share": [0.5, 0.5]})),
            ("staging", "stg_shop__promotions", pd.DataFrame({"promotion_id": ["arm"], "discount_rate": [0.0],
                                                              "contact_cost": [0.0]})),
        ):
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", frame)
            con.execute(f"create table {schema}.{name} as select * from frame")
            con.unregister("frame")
    finally:
        con.close()
    (tmp_path / "truth").mkdir()
    truth.to_parquet(tmp_path / "truth" / "truth_exposures.parquet")
    customers.to_parquet(tmp_path / "truth" / "truth_customers.parquet")
    out = tmp_path / "limits.json"
    assert ceiling.main(["--warehouse", str(warehouse), "--truth", str(tmp_path / "truth"), "--out", str(out),
                         "--label", "hidden coin"]) == 0
    result = json.loads(out.read_text())
    assert result["label"] == "hidden coin"
    (arm,) = result["arms"]
    # no feature shows the coin, the learner finds it once revealed
    assert arm["model_qini_ratio"] == 0.01 and abs(arm["ceiling_boosting_gain_ratio"]) < 0.15
    assert arm["type_revealed_gain_ratio"] > 0.9
    # the default, refitted with the settings of ml_uplift_run, finds nothing either: far below the target
    assert arm["default_learner"] in ("t", "x", "s") and arm["meets_ceiling_target"] is False
    assert result["target_share"] == 0.9 and result["default_settings"]["n_placebo"] == 0
    md = out.with_suffix(".md").read_text()
    assert md.startswith("# Uplift ceiling: hidden coin")
    assert re.search(r"\n\| arm \| [\d,]+ \| 0\.01 \| .* \| (0\.9\d|1\.00) \(gain (0\.9\d|1\.00)\) \|\n", md), md
    assert re.search(r"\n\| arm \| [tsx] \| -?\d\.\d\d \| -?\d\.\d\d \(\w+\) \| .* \| missed \|\n", md), md


def test_the_default_is_held_to_nine_tenths_of_the_better_ceiling(ceiling):
    table = pd.DataFrame({"experiment_id": ["e", "e", "e"], "promotion_id": ["a", "b", "c"],
                          "ceiling_boosting_gain_ratio": [0.80, 0.50, float("nan")],
                          "ceiling_linear_gain_ratio": [0.70, 0.60, float("nan")]})
    evaluation = pd.DataFrame({"experiment_id": ["e", "e", "e"], "promotion_id": ["a", "b", "c"],
                               "learner": ["x", "t", "x"], "qini_oracle_ratio": [0.7, 0.5, 0.1],
                               "true_gain_ratio": [0.73, 0.53, 0.4]})
    out = ceiling.against_ceiling(table, evaluation).set_index("promotion_id")
    assert list(out["ceiling_kind"][:2]) == ["boosting", "linear"] and pd.isna(out.loc["c", "ceiling_kind"])
    assert out.loc["a", "ceiling_gain_ratio"] == 0.80 and out.loc["b", "ceiling_gain_ratio"] == 0.60
    assert out.loc["a", "gain_share_of_ceiling"] == pytest.approx(0.73 / 0.80)
    assert out.loc["b", "gain_share_of_ceiling"] == pytest.approx(0.53 / 0.60)
    assert list(out["meets_ceiling_target"]) == [True, False, False]  # no ceiling: not met
    assert out.loc["b", "default_learner"] == "t" and out.loc["a", "default_qini_ratio"] == 0.7
