"""The warehouse's CLV table: maximum likelihood equal to lifetimes, opt-in scale-invariant penalty, margin CLV,
bootstrap intervals, named statuses on degenerate data, and the calibration/holdout and truth evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clv_summaries import no_dropout_summary, summary

from retail_lift import clv
from retail_lift.evaluation.clv import (
    calibration_holdout_summary,
    clv_evaluation,
    holdout_evaluation,
    truth_comparison,
)

DATA = Path(__file__).parent / "data"

# lifetimes 0.11.3, unpenalised, on the committed samples (BetaGeoFitter / GammaGammaFitter with
# penalizer_coef=0; the orders log summarised by lifetimes.utils.summary_data_from_transaction_data, freq="D",
# observation_period_end="1998-06-30"): the reference when lifetimes is not installed.
LIFETIMES_WEEKS = {"r": 0.24259292827982148, "alpha": 4.413532265271809, "a": 0.7928859664406578,
                   "b": 2.4257523826257374, "p": 6.24880249607099, "q": 3.7445884609237634, "v": 15.447748064943575}
LIFETIMES_ORDERS_DAYS = {"r": 0.2535610435991829, "alpha": 38.13076285952146, "a": 0.6073660515643842,
                         "b": 2.6472346803199107, "p": 4.68345418007895, "q": 4.1897830633526985,
                         "v": 24.390547631302653}


@pytest.fixture(scope="module")
def weeks() -> pd.DataFrame:
    df = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return df


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_sample_orders.csv")


@pytest.fixture(scope="module")
def days(orders) -> pd.DataFrame:
    """The CDNOW orders log as the warehouse summarises it (purchase days up to 1998-06-30)."""
    return calibration_holdout_summary(orders, "1998-06-30", "1998-07-01")


def _param(params: pd.DataFrame, model: str, name: str) -> float:
    row = params[(params.model == model) & (params.parameter == name)]
    assert len(row) == 1
    return float(row.value.iloc[0])


def _reference(df, penalizer=0.0):
    """lifetimes' fits when the package is installed, else the committed reference values."""
    try:
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError:
        return None
    bgf = BetaGeoFitter(penalizer_coef=penalizer).fit(df.frequency, df.recency, df["T"])
    rep = df[df.frequency > 0]
    ggf = GammaGammaFitter(penalizer_coef=penalizer).fit(rep.frequency, rep.monetary_value)
    return {**bgf.params_.to_dict(), **ggf.params_.to_dict()}


def _loglik(ref, df):
    bg = clv._bgnbd_loglik(tuple(ref[k] for k in ("r", "alpha", "a", "b")), df.frequency.to_numpy(float),
                           df.recency.to_numpy(float), df["T"].to_numpy(float)).sum()
    rep = df[df.frequency > 0]
    gg = clv._gg_loglik(tuple(ref[k] for k in ("p", "q", "v")), rep.frequency.to_numpy(float),
                        rep.monetary_value.to_numpy(float)).sum()
    return bg, gg


@pytest.mark.parametrize("sample", ["weeks", "days"])
def test_table_fit_equals_lifetimes_unpenalised_maximum_likelihood(sample, request):
    df = request.getfixturevalue(sample)
    committed = LIFETIMES_WEEKS if sample == "weeks" else LIFETIMES_ORDERS_DAYS
    live = _reference(df)
    for ref in [committed] + ([live] if live else []):
        scores, params = clv.lifetime_value_table(df)
        for k in ("r", "alpha", "a", "b"):
            assert _param(params, "bg_nbd", k) == pytest.approx(ref[k], rel=2e-5), k
        for k in ("p", "q", "v"):
            assert _param(params, "gamma_gamma", k) == pytest.approx(ref[k], rel=2e-5), k
        ll_bg, ll_gg = _loglik(ref, df)
        # the maximum: never below the reference's log-likelihood, and equal to it within 1e-6
        assert _param(params, "bg_nbd", "log_likelihood") == pytest.approx(ll_bg, abs=1e-6)
        assert _param(params, "bg_nbd", "log_likelihood") >= ll_bg - 1e-9
        assert _param(params, "gamma_gamma", "log_likelihood") == pytest.approx(ll_gg, abs=1e-6)
        assert _param(params, "bg_nbd", "penalizer") == 0.0
    assert scores.clv_status.iloc[0].startswith("purchase model: ok; spend model: ok; margin: no unit costs")


def test_cdnow_orders_summary_equals_lifetimes_summary(orders, days):
    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        pytest.skip("lifetimes not installed")
    ref = summary_data_from_transaction_data(orders, "customer_id", "ordered_at", monetary_value_col="amount",
                                             observation_period_end="1998-06-30", freq="D")
    ours = days.assign(customer_id=days.customer_id.astype(int)).set_index("customer_id").sort_index()
    ref = ref.sort_index()
    assert list(ours.index) == list(ref.index)
    for c in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-12, atol=1e-9)


def test_penalty_is_opt_in_scale_invariant_and_equals_lifetimes_bgnbd(weeks):
    in_days = weeks.assign(recency=weeks.recency * 7, T=weeks["T"] * 7)
    w = clv.fit_bgnbd(weeks.frequency, weeks.recency, weeks["T"], penalizer=0.01)
    d = clv.fit_bgnbd(in_days.frequency, in_days.recency, in_days["T"], penalizer=0.01)
    assert d["alpha"] == pytest.approx(7 * w["alpha"], rel=1e-5)
    for k in ("r", "a", "b"):
        assert d[k] == pytest.approx(w[k], rel=1e-5)
    mle = clv.fit_bgnbd(weeks.frequency, weeks.recency, weeks["T"])
    assert w["log_likelihood"] < mle["log_likelihood"]          # a penalty moves away from the maximum
    # Gamma-Gamma: amounts in cents give v x 100 and the same p, q under the same penalty
    g = clv.fit_gamma_gamma(weeks.frequency, weeks.monetary_value, penalizer=0.01)
    c = clv.fit_gamma_gamma(weeks.frequency, weeks.monetary_value * 100, penalizer=0.01)
    assert c["v"] == pytest.approx(100 * g["v"], rel=1e-5)
    assert (c["p"], c["q"]) == pytest.approx((g["p"], g["q"]), rel=1e-5)
    try:
        from lifetimes import BetaGeoFitter
    except ImportError:
        return
    ref = BetaGeoFitter(penalizer_coef=0.01).fit(weeks.frequency, weeks.recency, weeks["T"]).params_
    for k in ("r", "alpha", "a", "b"):
        assert w[k] == pytest.approx(ref[k], rel=1e-3), k


def test_revenue_and_margin_clv_and_the_deprecated_alias(days):
    df = days.assign(cost_of_goods=days.total_amount * 0.6)
    df.loc[df.index[:5], "cost_of_goods"] = np.nan          # customers without full unit costs: left out of the rate
    scores, params = clv.lifetime_value_table(df)
    rate = 1 - df.cost_of_goods[5:].sum() / df.total_amount[5:].sum()
    assert rate == pytest.approx(0.4)
    assert _param(params, "clv", "margin_rate") == pytest.approx(rate)
    np.testing.assert_array_equal(scores.clv_12m, scores.clv_revenue_12m)
    np.testing.assert_allclose(scores.clv_margin_12m, scores.clv_revenue_12m * rate)
    assert _param(params, "clv", "total_clv_revenue_12m") == pytest.approx(scores.clv_revenue_12m.sum())
    assert _param(params, "clv", "total_clv_margin_12m") == pytest.approx(scores.clv_margin_12m.sum())
    assert "margin: ok (gross margin rate 0.4000" in scores.clv_status.iloc[0]
    bg = clv.fit_bgnbd(df.frequency, df.recency, df["T"])
    gg = clv.fit_gamma_gamma(df.frequency, df.monetary_value)
    expected = clv.customer_lifetime_value(bg, gg, df.frequency, df.recency, df["T"], df.monetary_value,
                                           horizon=12, discount_rate=0.01, period=30.0)
    np.testing.assert_allclose(scores.clv_revenue_12m, expected, rtol=1e-6)
    assert list(scores.columns) == clv.LTV_COLUMNS


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_estimates_and_are_reproducible(days):
    _, p1 = clv.lifetime_value_table(days, n_bootstrap=40, random_state=3)
    _, p2 = clv.lifetime_value_table(days, n_bootstrap=40, random_state=3)
    pd.testing.assert_frame_equal(p1, p2)
    est = p1[p1.parameter.isin(["r", "alpha", "a", "b", "p", "q", "v", "total_clv_revenue_12m"])]
    assert len(est) == 8
    assert (est.bootstrap_samples >= 38).all()
    assert (est.ci_low < est.value).all() and (est.value < est.ci_high).all()
    assert (est.ci_high - est.ci_low > 0.01 * est.value).all()          # a real interval, not a point
    counts = p1[p1.parameter.isin(["customers", "penalizer", "log_likelihood"])]
    assert counts.ci_low.isna().all()


_summary = summary


def _assert_null(scores, columns):
    for c in columns:
        assert scores[c].isna().all(), c


MODEL_COLUMNS = ["expected_purchases_365d", "probability_alive", "expected_avg_spend", "clv_revenue_12m",
                 "clv_margin_12m", "clv_12m"]


def test_no_repeat_buyers_is_a_named_status_not_a_crash():
    scores, params = clv.lifetime_value_table(_summary([0] * 20, [0] * 20, list(range(5, 25)), [0.0] * 20))
    status = scores.clv_status.iloc[0]
    assert "purchase model: no repeat buyers: purchase model not estimable" in status
    assert "spend model: no repeat buyers: spend model not estimable" in status
    _assert_null(scores, MODEL_COLUMNS)
    assert params.value[params.parameter.isin(["r", "p", "total_clv_revenue_12m"])].isna().all()
    assert (params.status[params.model == "gamma_gamma"] == "no repeat buyers: spend model not estimable").all()


def test_single_purchase_day_and_all_first_purchases_on_the_snapshot_day():
    scores, _ = clv.lifetime_value_table(_summary([0] * 12, [0] * 12, [30] * 12, [0.0] * 12))
    assert "a single purchase day: no repeat buyers, purchase model not estimable" in scores.clv_status.iloc[0]
    _assert_null(scores, MODEL_COLUMNS)
    scores, _ = clv.lifetime_value_table(_summary([0] * 12, [0] * 12, [0] * 12, [0.0] * 12))
    assert "every first purchase is on the snapshot day (all T = 0)" in scores.clv_status.iloc[0]
    _assert_null(scores, MODEL_COLUMNS)


def test_customers_first_seen_on_the_snapshot_day_are_scored_and_noted(days):
    df = pd.concat([days, _summary([0, 0], [0, 0], [0, 0], [0.0, 0.0])], ignore_index=True)
    scores, _ = clv.lifetime_value_table(df)
    assert "2 customers first bought on the snapshot day, T = 0" in scores.clv_status.iloc[0]
    new = scores.tail(2)
    assert new.expected_purchases_365d.notna().all() and (new.probability_alive == 1.0).all()


def test_zero_and_missing_amounts(days):
    all_zero = days.assign(monetary_value=0.0)
    scores, params = clv.lifetime_value_table(all_zero)
    assert "spend model: no positive amounts among the" in scores.clv_status.iloc[0]
    assert "spend model not estimable" in scores.clv_status.iloc[0]
    assert scores.expected_purchases_365d.notna().all()       # the purchase model does not need amounts
    _assert_null(scores, ["expected_avg_spend", "clv_revenue_12m", "clv_12m", "clv_margin_12m"])
    all_missing = days.assign(monetary_value=np.nan)
    scores, _ = clv.lifetime_value_table(all_missing)
    assert "missing spend" in scores.clv_status.iloc[0] and "spend model not estimable" in scores.clv_status.iloc[0]
    _assert_null(scores, ["expected_avg_spend", "clv_revenue_12m"])
    some = days.copy()
    rep = some.index[some.frequency > 0]
    some.loc[rep[:3], "monetary_value"] = 0.0
    some.loc[rep[3:5], "monetary_value"] = np.nan
    scores, params = clv.lifetime_value_table(some)
    status = scores.clv_status.iloc[0]
    assert "3 with zero mean spend and 2 with missing spend of the repeat buyers" in status
    assert scores.loc[rep[:5], "clv_revenue_12m"].isna().all()
    assert scores.drop(index=rep[:5]).clv_revenue_12m.notna().all()
    assert _param(params, "gamma_gamma", "customers") == (days.frequency > 0).sum() - 5


def test_empty_and_too_few_customers():
    empty = _summary([], [], [], [])
    scores, params = clv.lifetime_value_table(empty)
    assert len(scores) == 0 and list(scores.columns) == clv.LTV_COLUMNS
    assert (params.status[params.model == "bg_nbd"] == "no customers: purchase model not estimable").all()
    scores, _ = clv.lifetime_value_table(_summary([1, 0, 0], [3, 0, 0], [10, 10, 10], [5.0, 0.0, 0.0]))
    assert "too few customers (1 repeat buyers of 3 customers" in scores.clv_status.iloc[0]
    _assert_null(scores, MODEL_COLUMNS)


def test_bad_summary_rows_are_named():
    with pytest.raises(ValueError, match=r"recency must not exceed T.*customer_id 'c1'"):
        clv.lifetime_value_table(_summary([1, 1], [3, 30], [10, 10], [5.0, 5.0]))
    with pytest.raises(ValueError, match="missing column"):
        clv.lifetime_value_table(pd.DataFrame({"customer_id": ["a"]}))


# --------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------

def test_calibration_holdout_summary_by_hand():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "a", "b", "c"],
        "ordered_at": ["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-11", "2026-02-05", "2026-02-07",
                       "2026-01-30", "2026-02-02"],
        "amount": [10.0, 5.0, 20.0, 40.0, 60.0, 7.0, 3.0],
    })
    s = calibration_holdout_summary(orders, "2026-01-31", "2026-02-28").set_index("customer_id")
    assert list(s.index) == ["a", "b"]                    # c first bought in the holdout
    assert s.loc["a", ["frequency", "recency", "T", "monetary_value", "total_amount"]].tolist() == [1, 10, 30, 20, 35]
    assert s.loc["a", ["holdout_purchases", "holdout_spend"]].tolist() == [2, 100]
    assert s.loc["b", ["frequency", "T", "holdout_purchases"]].tolist() == [0, 1, 0]


def test_holdout_evaluation_on_a_bgnbd_world_is_close():
    """Customers simulated from BG/NBD itself: the total holdout prediction is within a few percent."""
    rng = np.random.default_rng(7)
    n, cal_days, hold_days = 6000, 120, 60
    lam = rng.gamma(0.8, 1 / 30.0, n)
    p = rng.beta(0.5, 4.0, n)
    first = rng.integers(0, 100, n)
    rows = []
    for i in range(n):
        t = float(first[i])
        rows.append((i, t))
        while True:
            t += rng.exponential(1 / lam[i])
            if t > cal_days + hold_days:
                break
            rows.append((i, t))
            if rng.random() < p[i]:
                break
    o = pd.DataFrame(rows, columns=["customer_id", "t"])
    o["ordered_at"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(o.t, unit="D")
    o["amount"] = rng.gamma(5.0, 10.0, len(o))
    o["customer_id"] = o.customer_id.astype(str)
    s = calibration_holdout_summary(o, pd.Timestamp("2026-01-01") + pd.Timedelta(days=cal_days - 1),
                                    pd.Timestamp("2026-01-01") + pd.Timedelta(days=cal_days + hold_days - 1))
    ev = holdout_evaluation(s, hold_days).set_index("frequency_bucket")
    assert ev.loc["all", "customers"] == len(s)
    assert ev.loc["all", "realised_purchases"] == s.holdout_purchases.sum()
    assert abs(ev.loc["all", "purchases_error"]) < 0.06
    assert bool(ev.loc["all", "meets_target"]) == (abs(ev.loc["all", "purchases_error"]) <= 0.05)
    assert ev.customers.drop("all").sum() == len(s)


def test_truth_comparison_by_hand():
    scores = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [0.0, 2.0],
                           "expected_purchases_365d": [2.0, 5.0], "expected_avg_spend": [50.0, 80.0],
                           "clv_status": ["purchase model: ok"] * 2})
    truth = pd.DataFrame({"customer_id": ["a", "b"],
                          "active_from": pd.to_datetime(["2025-01-01", "2025-01-01"]),
                          "active_until": pd.to_datetime(["2026-01-02", "2030-01-01"]),   # a: 0.5 year left
                          "online_order_rate": [0.01, 0.01], "store_order_rate": [0.0, 0.005],
                          "mean_order_value": [45.0, 100.0]})
    ev = truth_comparison(scores, truth, "2025-07-05").set_index("frequency_bucket")
    # a: active 2025-07-06 .. 2026-01-02 = 180 days x 0.01; b: 365 days x 0.015
    assert ev.loc["0", "realised_purchases"] == pytest.approx(1.8)
    assert ev.loc["2", "realised_purchases"] == pytest.approx(5.475)
    assert ev.loc["0", "spend_per_purchase_error"] == pytest.approx(50 / 45 - 1)
    assert ev.loc["0", "meets_target"] == bool(50 / 45 - 1 <= 0.10)
    assert ev.loc["all", "predicted_purchases"] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="no row for scored customer"):
        truth_comparison(scores, truth.iloc[:1], "2025-07-05")


def test_clv_evaluation_stacks_holdout_and_truth_rows(orders):
    snap = "1998-06-30"
    days = calibration_holdout_summary(orders, snap, "1998-07-01")
    scores, _ = clv.lifetime_value_table(days)
    truth = pd.DataFrame({"customer_id": days.customer_id, "active_from": pd.Timestamp("1997-01-01"),
                          "active_until": pd.Timestamp("2000-01-01"), "online_order_rate": 0.005,
                          "store_order_rate": 0.0, "mean_order_value": 30.0})
    ev = clv_evaluation(orders, scores, truth, snap, holdout_days=120)
    assert set(ev.evaluation) == {"holdout", "truth_365d"}
    assert not ev.duplicated(["evaluation", "frequency_bucket"]).any()
    hold = ev[(ev.evaluation == "holdout") & (ev.frequency_bucket == "all")].iloc[0]
    assert hold.customers == len(days) and np.isfinite(hold.purchases_error)  # all first bought in 1997 Q1


@pytest.mark.slow
def test_no_dropout_in_the_data_is_the_nbd_boundary_named_in_the_status():
    """Customers who never churn: the likelihood climbs to a -> 0 (BG/NBD's NBD limit). Scored there, said so."""
    scores, params = clv.lifetime_value_table(no_dropout_summary(), n_bootstrap=10)
    assert "purchase model: ok at the boundary a -> 0: no dropout in the data" in scores.clv_status.iloc[0]
    assert scores.expected_purchases_365d.notna().all()
    np.testing.assert_allclose(scores.probability_alive, 1.0, atol=1e-4)
    assert np.isnan(_param(params, "bg_nbd", "b")) and _param(params, "bg_nbd", "a") < 1e-5
    assert _param(params, "bg_nbd", "r") > 0


def test_an_estimate_that_cannot_be_evaluated_is_a_status_not_a_crash(days, monkeypatch):
    """hyp2f1 can fail far out in the parameter space (seen in a bootstrap resample of the tiny world)."""
    def fail(*_args, **_kwargs):
        raise FloatingPointError("expected purchases could not be evaluated at position 0")

    monkeypatch.setattr(clv, "_discounted_purchases", fail)
    scores, params = clv.lifetime_value_table(days, n_bootstrap=3)
    assert "purchase model: the estimate cannot be evaluated (expected purchases could not" in scores.clv_status.iloc[0]
    _assert_null(scores, ["expected_purchases_365d", "probability_alive", "clv_revenue_12m", "clv_margin_12m"])
    assert scores.expected_avg_spend.notna().all()        # the spend model stands on its own
    assert np.isnan(_param(params, "bg_nbd", "r")) and np.isnan(_param(params, "clv", "total_clv_revenue_12m"))


def test_the_table_does_not_depend_on_the_row_order(days):
    """dbt hands the inputs over in no particular order; two builds of the same data must give the same tables."""
    s1, p1 = clv.lifetime_value_table(days, n_bootstrap=5, random_state=1)
    s2, p2 = clv.lifetime_value_table(days.sample(frac=1.0, random_state=3), n_bootstrap=5, random_state=1)
    pd.testing.assert_frame_equal(p1, p2)
    pd.testing.assert_frame_equal(s1, s2)


def test_last_bit_noise_in_the_amounts_changes_nothing(days):
    """The warehouse's parallel sums differ in the last bits between builds; the table must not."""
    noisy = days.assign(monetary_value=days.monetary_value * (1 + 1e-15 * (days.index % 3 - 1)))
    _, p1 = clv.lifetime_value_table(days, n_bootstrap=5)
    _, p2 = clv.lifetime_value_table(noisy, n_bootstrap=5)
    pd.testing.assert_frame_equal(p1, p2)
