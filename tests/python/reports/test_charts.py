"""Charts of the docs site (retail_lift.reports.charts) on the tiny warehouse: every chart is a real PNG, the
drawing is deterministic, the curves are the package's own metrics, and missing tables are skipped, not fatal."""

from __future__ import annotations

import struct

import duckdb
import numpy as np
import pytest

from retail_lift.predict import calibration_table
from retail_lift.reports.charts import (
    CHARTS,
    build_charts,
    calibration_bins_sql,
    ece_of_bins,
    qini_points,
)
from retail_lift.uplift.metrics import qini_curve
from retail_lift.warehouse import read_only

pytestmark = pytest.mark.dbt

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def charts(tiny_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("charts")
    return build_charts(tiny_warehouse, out, log=lambda _line: None), out


def test_every_chart_is_written_as_a_non_empty_png(charts):
    results, out = charts
    assert [r.name for r in results] == list(CHARTS)
    for result in results:
        assert result.written, f"{result.name} skipped on the tiny world: {result.reason}"
        data = result.path.read_bytes()
        assert result.path.parent == out and data[:8] == PNG_SIGNATURE
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        assert width >= 600 and height >= 300, (result.name, width, height)
        assert len(data) > 10_000, (result.name, len(data))


def test_charts_are_deterministic(charts, tiny_warehouse, tmp_path):
    first, _ = charts
    again = build_charts(tiny_warehouse, tmp_path, log=lambda _line: None)
    for a, b in zip(first, again, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.name


def test_qini_points_are_the_uplift_packages_qini_curve(tiny_warehouse):
    points = qini_points(tiny_warehouse)
    with read_only(tiny_warehouse) as con:
        rows = con.execute(
            "select promotion_id, learner, cast(is_converted as integer) as y, predicted_uplift, "
            "cast(is_treated as integer) as t from ml.ml_uplift_holdout_predictions "
            "where predicted_uplift is not null and is_treated is not null and is_converted is not null").df()
    assert not rows.empty
    for promotion, group in rows.groupby("promotion_id"):  # one curve per promotion: all its out-of-fold rows
        x, q = qini_curve(group["y"].to_numpy(), group["predicted_uplift"].to_numpy(), group["t"].to_numpy())
        mine = points[points["promotion_id"] == promotion]
        assert set(mine["learner"]) == {"/".join(sorted(group["learner"].unique()))}
        np.testing.assert_allclose(np.r_[0.0, mine["n_targeted"].to_numpy()], x)
        np.testing.assert_allclose(np.r_[0.0, mine["qini"].to_numpy(dtype=float)], q, atol=1e-9)


def test_calibration_bins_are_the_predict_packages_table_and_give_the_metrics_ece(tiny_warehouse):
    table = "ml.ml_purchase_propensity_fit"
    with read_only(tiny_warehouse) as con:
        bins = con.execute(calibration_bins_sql(table)).df()
        rows = con.execute(f"select probability, label from {table} "
                           "where record_type = 'holdout' and is_chosen_model").df()
        ece = con.execute(f"select value from {table} where record_type = 'metric' and split in ('test', 'holdout') "
                          "and metric = 'ece' and is_chosen_model").fetchall()[0][0]
    reference = calibration_table(rows["label"].to_numpy(), rows["probability"].to_numpy())
    reference = reference[reference["n"] > 0].reset_index(drop=True)
    assert bins["bin"].tolist() == reference["bin"].tolist()
    assert bins["n"].tolist() == reference["n"].tolist()
    np.testing.assert_allclose(bins["mean_predicted"], reference["mean_predicted"])
    np.testing.assert_allclose(bins["observed_rate"], reference["observed_rate"])
    assert ece_of_bins(bins) == pytest.approx(ece, abs=1e-9)


def test_missing_or_empty_tables_are_skipped_with_a_reason(tiny_warehouse, tmp_path):
    # a warehouse with RFM segments and an empty decision ledger (as an orders-only data folder builds it)
    partial = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(partial))
    try:
        con.execute(f"attach '{tiny_warehouse}' as tiny (read_only)")
        con.execute("create schema marts")
        con.execute("create table marts.rpt_rfm_segments as select * from tiny.marts.rpt_rfm_segments")
        con.execute("create table marts.fct_decision_ledger as select * from tiny.marts.fct_decision_ledger limit 0")
        con.execute("detach tiny")
    finally:
        con.close()
    out = tmp_path / "charts"
    out.mkdir()
    (out / "funnel.png").write_bytes(b"a chart of another build")
    lines: list[str] = []
    results = {r.name: r for r in build_charts(partial, out, log=lines.append)}
    assert results["rfm_segments"].written
    assert results["funnel"].reason == "table marts.fct_product_funnel not in the warehouse"
    assert results["bandit_arm_mix"].reason == "fct_decision_ledger has no decisions"
    assert not (out / "funnel.png").exists()  # no stale chart of another build
    assert sorted(p.name for p in out.iterdir()) == ["rfm_segments.png"]
    assert "chart funnel: skipped (table marts.fct_product_funnel not in the warehouse)" in lines

    missing = build_charts(tmp_path / "nothing.duckdb", tmp_path / "none", log=lambda _line: None)
    assert {r.reason for r in missing} == {f"no warehouse at {tmp_path / 'nothing.duckdb'}"}
