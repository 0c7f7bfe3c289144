"""Tests for retail_lift.clv: BG/NBD, Gamma-Gamma and discounted CLV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from retail_lift import clv
from retail_lift.clv import _bgnbd_loglik, _gg_loglik

DATA = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    assert len(df) == 2357
    return df


@pytest.fixture(scope="module")
def bg(cdnow) -> dict:
    return clv.fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow["T"])


@pytest.fixture(scope="module")
def gg(cdnow) -> dict:
    return clv.fit_gamma_gamma(cdnow.frequency, cdnow.monetary_value)


def _simulate_bgnbd(n, r, alpha, a, b, horizon, seed):
    """Simulate BG/NBD customers in days: calibration summary, holdout purchases, true alive status."""
    rng = np.random.default_rng(seed)
    T = rng.integers(90, 731, n).astype(float)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    x = np.zeros(n)
    tx = np.zeros(n)
    holdout = np.zeros(n)
    alive_at_T = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        beyond = t[idx] > T[idx] + horizon
        active[idx[beyond]] = False
        idx = idx[~beyond]
        cal = t[idx] <= T[idx]
        x[idx[cal]] += 1
        tx[idx[cal]] = t[idx[cal]]
        holdout[idx[~cal]] += 1
        dies = rng.random(len(idx)) < p[idx]          # dropout right after a repeat purchase
        active[idx[dies]] = False
        alive_at_T[idx[dies & cal]] = False
    return x, tx, T, holdout, alive_at_T


def _direct_conditional_expectation(params, t, x, tx, T):
    """FHL (2005) eq. 10 written out literally (no Euler transform, no log space)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    z = t / (alpha + T + t)
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    denom = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return first * second / denom


# --------------------------------------------------------------------------------------------------
# CDNOW reference values
# --------------------------------------------------------------------------------------------------

def test_bgnbd_cdnow_matches_published_estimates(bg):
    # Fader, Hardie & Lee (2005), Marketing Science: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426,
    # LL = -9582.4 (weekly data).
    assert bg["converged"] is True
    assert bg["n"] == 2357
    assert bg["r"] == pytest.approx(0.243, abs=0.001)
    assert bg["alpha"] == pytest.approx(4.414, abs=0.002)
    assert bg["a"] == pytest.approx(0.793, abs=0.001)
    assert bg["b"] == pytest.approx(2.426, abs=0.002)
    assert bg["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)


def test_bgnbd_cdnow_conditional_expectation_example(bg):
    # FHL (2005): a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in
    # the next 39 weeks.
    e = clv.expected_purchases(bg, 39, 2, 30.43, 38.86)
    assert e.shape == (1,)
    assert e[0] == pytest.approx(1.226, abs=0.001)


def test_gamma_gamma_cdnow_matches_reference(gg, cdnow):
    # lifetimes documentation (same data, repeat buyers only): p = 6.25, q = 3.74, v = 15.45.
    # Measured here: p = 6.2488, q = 3.7446, v = 15.4477.
    assert gg["converged"] is True
    assert gg["n"] == int((cdnow.frequency > 0).sum()) == 946
    assert gg["p"] == pytest.approx(6.25, abs=0.005)
    assert gg["q"] == pytest.approx(3.74, abs=0.005)
    assert gg["v"] == pytest.approx(15.45, abs=0.005)
    # population mean spend per transaction p v / (q - 1), close to the observed mean of repeat buyers
    assert gg["p"] * gg["v"] / (gg["q"] - 1) == pytest.approx(35.17, abs=0.01)


def test_gamma_gamma_ignores_one_time_buyers(cdnow, gg):
    # one-time buyers are dropped before fitting, whatever placeholder spend they carry
    junk = cdnow.monetary_value.where(cdnow.frequency > 0, 999.0)
    again = clv.fit_gamma_gamma(cdnow.frequency, junk)
    assert again["n"] == 946
    for k in ("p", "q", "v", "log_likelihood"):
        assert again[k] == pytest.approx(gg[k], rel=1e-9)


def test_cdnow_spend_and_clv_match_lifetimes_documentation(bg, gg, cdnow):
    head = cdnow.iloc[:6]
    spend = clv.expected_average_spend(gg, head.frequency, head.monetary_value)
    # lifetimes docs: conditional_expected_average_profit for customers 1..6
    np.testing.assert_allclose(spend, [24.6586, 18.9115, 35.1710, 35.1710, 35.1710, 71.4628], atol=5e-4)
    # lifetimes docs: ggf.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01) with its default
    # freq="D" (steps of 30 units, here 30 weeks), i.e. period=30 on this weekly data
    value = clv.customer_lifetime_value(bg, gg, head.frequency, head.recency, head["T"], head.monetary_value,
                                        horizon=12, discount_rate=0.01, period=30)
    np.testing.assert_allclose(value[:3], [140.0962, 18.9435, 38.1806], atol=5e-4)


def test_fit_collapses_duplicate_rows_without_changing_the_estimate(cdnow, bg):
    # fitting on the data twice over doubles the log-likelihood and leaves the estimate unchanged
    doubled = pd.concat([cdnow, cdnow])
    fit2 = clv.fit_bgnbd(doubled.frequency, doubled.recency, doubled["T"])
    assert fit2["n"] == 2 * 2357
    assert fit2["log_likelihood"] == pytest.approx(2 * bg["log_likelihood"], rel=1e-9)
    for k in ("r", "alpha", "a", "b"):
        assert fit2[k] == pytest.approx(bg[k], rel=1e-5)


def test_penalizer_shrinks_parameters(cdnow, bg):
    pen = clv.fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow["T"], penalizer=0.01)
    assert pen["penalizer"] == 0.01
    assert pen["log_likelihood"] < bg["log_likelihood"]
    total = sum(pen[k] ** 2 for k in ("r", "alpha", "a", "b"))
    assert total < sum(bg[k] ** 2 for k in ("r", "alpha", "a", "b"))


# --------------------------------------------------------------------------------------------------
# likelihood internals
# --------------------------------------------------------------------------------------------------

def test_analytic_gradients_match_finite_differences(cdnow):
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    m = cdnow.monetary_value.to_numpy(float)
    cases = [
        (_bgnbd_loglik, np.array([0.3, 5.0, 0.9, 2.0]), (x, tx, T)),
        (_gg_loglik, np.array([5.0, 3.0, 12.0]), (x[x > 0], m[x > 0])),
    ]
    for loglik, params, data in cases:
        _, g = loglik(params, *data, grad=True)
        analytic = g.sum(axis=0)
        for k in range(len(params)):
            h = 1e-6 * params[k]
            up, down = params.copy(), params.copy()
            up[k] += h
            down[k] -= h
            numeric = (loglik(up, *data).sum() - loglik(down, *data).sum()) / (2 * h)
            assert analytic[k] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def test_bgnbd_loglik_single_customer_by_hand():
    # x = 0: LL = r log(alpha/(alpha+T)), the probability of no purchase in (0, T] (no dropout is
    # possible without a purchase)
    r, alpha, a, b = 0.5, 3.0, 1.2, 2.5
    ll0 = _bgnbd_loglik((r, alpha, a, b), np.array([0.0]), np.array([0.0]), np.array([10.0]))
    assert ll0[0] == pytest.approx(r * np.log(alpha / (alpha + 10.0)), abs=1e-12)
    # x = 1, t_x = 4, T = 10, from FHL eq. (6) with plain gamma functions
    from scipy.special import beta, gamma

    lik = (beta(a, b + 1) / beta(a, b) * gamma(r + 1) * alpha**r / gamma(r) / (alpha + 10.0) ** (r + 1)
           + beta(a + 1, b) / beta(a, b) * gamma(r + 1) * alpha**r / gamma(r) / (alpha + 4.0) ** (r + 1))
    ll1 = _bgnbd_loglik((r, alpha, a, b), np.array([1.0]), np.array([4.0]), np.array([10.0]))
    assert ll1[0] == pytest.approx(np.log(lik), rel=1e-12)


def _bgnbd_loglik_by_row(params, x, tx, T):
    """The BG/NBD log-likelihood and gradient written row by row (clv.py before the per-distinct-value form)."""
    from scipy.special import digamma, gammaln
    r, alpha, a, b = params
    rx = r + x
    bx1 = b + np.maximum(x, 1.0) - 1.0
    rep = x > 0
    a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -rx * np.log(alpha + T)
    a4 = np.log(a) - np.log(bx1) - rx * np.log(alpha + tx)
    tail = np.where(rep, np.logaddexp(a3, a4), a3)
    w4 = np.where(rep, np.exp(a4 - tail), 0.0)
    w3 = 1.0 - w4
    g = np.column_stack([
        digamma(rx) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx),
        r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + tx),
        digamma(a + b) - digamma(a + b + x) + w4 / a,
        digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1])
    return a1 + a2 + tail, g


def _gg_loglik_by_row(params, x, m):
    """The Gamma-Gamma log-likelihood and gradient written row by row."""
    from scipy.special import digamma, gammaln
    p, q, v = params
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
          + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_xm_v)
    psi = digamma(px + q)
    g = np.column_stack([x * (psi - digamma(px) + np.log(m) + np.log(x) - log_xm_v),
                         psi - digamma(q) + np.log(v) - log_xm_v,
                         q / v - (px + q) / (x * m + v)])
    return ll, g


def test_the_likelihoods_per_distinct_value_equal_the_row_by_row_form_to_the_bit(cdnow):
    """The optimiser's likelihoods compute the terms of a frequency (or a day) once per distinct value; every
    row's value and gradient is still the same number as the row-by-row formula's, so fits are unchanged."""
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    m = cdnow.monetary_value.to_numpy(float)
    rep = x > 0
    rng = np.random.default_rng(0)
    for _ in range(20):
        bg_params, gg_params = np.exp(rng.normal(0.0, 2.0, 4)), np.exp(rng.normal(0.0, 2.0, 3))
        for ours, by_row in ((_bgnbd_loglik(bg_params, x, tx / T.max(), T / T.max(), grad=True),
                              _bgnbd_loglik_by_row(bg_params, x, tx / T.max(), T / T.max())),
                             (_gg_loglik(gg_params, x[rep], m[rep], grad=True),
                              _gg_loglik_by_row(gg_params, x[rep], m[rep]))):
            np.testing.assert_array_equal(ours[0], by_row[0])
            np.testing.assert_array_equal(ours[1], by_row[1])


# --------------------------------------------------------------------------------------------------
# per-customer quantities
# --------------------------------------------------------------------------------------------------

def test_probability_alive_is_one_without_repeat_purchases(bg):
    T = np.array([0.0, 1.0, 10.0, 38.86, 500.0])
    p = clv.probability_alive(bg, np.zeros(5), np.zeros(5), T)
    np.testing.assert_array_equal(p, np.ones(5))


def test_probability_alive_by_hand_and_decreasing_in_silence(bg):
    r, alpha, a, b = (bg[k] for k in ("r", "alpha", "a", "b"))
    x, tx = 2.0, 30.43
    Ts = np.array([30.43, 35.0, 38.86, 60.0, 120.0])
    p = clv.probability_alive(bg, np.full(5, x), np.full(5, tx), Ts)
    by_hand = 1.0 / (1.0 + a / (b + x - 1) * ((alpha + Ts) / (alpha + tx)) ** (r + x))
    np.testing.assert_allclose(p, by_hand, rtol=1e-12)
    assert p[2] == pytest.approx(0.7266, abs=1e-4)
    assert np.all(np.diff(p) < 0)
    assert np.all((p > 0) & (p < 1))


def test_expected_purchases_matches_direct_formula(bg):
    x = np.array([0.0, 1.0, 2.0, 7.0, 15.0])
    tx = np.array([0.0, 5.5, 30.43, 20.0, 37.0])
    T = np.array([27.0, 31.0, 38.86, 38.0, 38.5])
    for t in (1.0, 10.0, 39.0, 104.0):
        ours = clv.expected_purchases(bg, t, x, tx, T)
        direct = _direct_conditional_expectation(bg, t, x, tx, T)
        np.testing.assert_allclose(ours, direct, rtol=1e-10)
    # also a parameter set with a > 1 (the CDNOW fit has a < 1)
    other = {"r": 0.8, "alpha": 25.0, "a": 2.5, "b": 6.0}
    ours = clv.expected_purchases(other, 90, x, tx * 7, T * 7)
    np.testing.assert_allclose(ours, _direct_conditional_expectation(other, 90, x, tx * 7, T * 7), rtol=1e-10)


def test_expected_purchases_for_a_brand_new_customer_is_the_unconditional_formula(bg):
    # with x = t_x = T = 0, eq. 10 must reduce to FHL eq. 9: E[X(t)] for a randomly chosen customer
    r, alpha, a, b = (bg[k] for k in ("r", "alpha", "a", "b"))
    for t in (1.0, 39.0, 78.0):
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        eq9 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)
        assert clv.expected_purchases(bg, t, 0, 0, 0)[0] == pytest.approx(eq9, rel=1e-10)


def test_expected_purchases_basic_shape(bg):
    x = np.array([0.0, 3.0])
    tx = np.array([0.0, 20.0])
    T = np.array([30.0, 30.0])
    np.testing.assert_array_equal(clv.expected_purchases(bg, 0, x, tx, T), [0.0, 0.0])
    ts = [1.0, 5.0, 20.0, 52.0, 200.0]
    values = np.array([clv.expected_purchases(bg, t, x, tx, T) for t in ts])
    assert np.all(np.diff(values, axis=0) > 0)          # cumulative, so increasing in t
    # a per-customer horizon gives the same as scalar horizons one at a time
    per = clv.expected_purchases(bg, [5.0, 52.0], x, tx, T)
    np.testing.assert_allclose(per, [values[1, 0], values[3, 1]], rtol=1e-12)


def test_expected_purchases_increase_with_frequency_for_recent_buyers(bg):
    # customers who bought at the end of the window (recency == T): more purchases, more expected
    xs = np.arange(0, 31, dtype=float)
    T = np.full(len(xs), 38.0)
    tx = np.where(xs > 0, 38.0, 0.0)
    e = clv.expected_purchases(bg, 39, xs, tx, T)
    assert np.all(np.diff(e) > 0)
    assert e[0] == pytest.approx(clv.expected_purchases(bg, 39, 0, 0, 38.0)[0])


def test_expected_purchases_frequency_paradox_when_silent(bg):
    # with recency fixed far before T, frequent buyers who went quiet are probably gone (known BTYD
    # property): the expectation rises, then falls with frequency
    xs = np.arange(1, 15, dtype=float)
    e = clv.expected_purchases(bg, 39, xs, np.full(len(xs), 10.0), np.full(len(xs), 38.0))
    peak = int(np.argmax(e))
    assert 0 < peak < len(xs) - 1
    assert e[-1] < 0.01 * e[peak]


def test_expected_purchases_stable_for_heavy_buyers_and_long_horizons():
    # daily-scale parameters; the literal formula overflows/NaNs here, ours must not
    params = {"r": 0.24, "alpha": 31.0, "a": 0.79, "b": 2.43}
    x = np.array([1.0, 50.0, 500.0, 2000.0, 5000.0])
    T = np.full(5, 3650.0)
    tx = T.copy()
    long = clv.expected_purchases(params, 36500.0, x, tx, T)
    assert np.all(np.isfinite(long)) and np.all(long > 0)
    assert np.all(np.diff(long) > 0)
    with np.errstate(all="ignore"):
        assert np.isnan(_direct_conditional_expectation(params, 36500.0, x, tx, T)[2:]).all()
    # small-t limit: E[Y(t)] / t -> P(alive) * E[lambda | alive] = P(alive) * (r + x) / (alpha + T)
    t = 1e-6
    slope = clv.expected_purchases(params, t, x, tx, T) / t
    limit = clv.probability_alive(params, x, tx, T) * (params["r"] + x) / (params["alpha"] + T)
    np.testing.assert_allclose(slope, limit, rtol=1e-4)


def test_expected_average_spend_by_hand(gg):
    p, q, v = gg["p"], gg["q"], gg["v"]
    x = np.array([0.0, 1.0, 4.0])
    m = np.array([0.0, 50.0, 10.0])
    weight = p * x / (p * x + q - 1)
    by_hand = (1 - weight) * p * v / (q - 1) + weight * m
    np.testing.assert_allclose(clv.expected_average_spend(gg, x, m), by_hand, rtol=1e-12)
    # more observed purchases, more weight on the customer's own mean
    many = clv.expected_average_spend(gg, [1, 10, 100], [100.0, 100.0, 100.0])
    assert np.all(np.diff(many) > 0) and many[-1] < 100.0


# --------------------------------------------------------------------------------------------------
# simulation: the model recovers its own parameters and its predictions are calibrated
# --------------------------------------------------------------------------------------------------

def test_bgnbd_recovers_simulated_parameters_and_predicts_holdout():
    truth = {"r": 0.6, "alpha": 40.0, "a": 0.8, "b": 2.5}
    horizon = 180.0
    x, tx, T, holdout, alive = _simulate_bgnbd(20000, *truth.values(), horizon=horizon, seed=7)
    fit = clv.fit_bgnbd(x, tx, T)
    assert fit["converged"]
    # tolerances are ~4 standard errors of log(param) at n = 20000 (observed-information SEs measured
    # on this sample: 0.013, 0.020, 0.039, 0.052)
    for k, tol in (("r", 0.06), ("alpha", 0.08), ("a", 0.16), ("b", 0.21)):
        assert abs(np.log(fit[k] / truth[k])) < tol, (k, fit[k])
    # with the true parameters, conditional expectations and P(alive) are unbiased given the history
    e = clv.expected_purchases(truth, horizon, x, tx, T)
    pa = clv.probability_alive(truth, x, tx, T)
    for lo, hi in ((0, 0), (1, 1), (2, 3), (4, 7), (8, np.inf)):
        g = (x >= lo) & (x <= hi)
        n = g.sum()
        se_hold = holdout[g].std() / np.sqrt(n)
        assert abs(holdout[g].mean() - e[g].mean()) < 4 * se_hold, (lo, holdout[g].mean(), e[g].mean())
        if lo > 0:
            se_alive = np.sqrt(alive[g].mean() * (1 - alive[g].mean()) / n)
            assert abs(alive[g].mean() - pa[g].mean()) < 4 * se_alive, (lo, alive[g].mean(), pa[g].mean())
        else:
            assert alive[g].all() and np.all(pa[g] == 1.0)
    assert e.sum() == pytest.approx(holdout.sum(), rel=0.03)


def test_gamma_gamma_recovers_simulated_parameters_and_shrinkage_helps():
    rng = np.random.default_rng(11)
    n, p, q, v = 5000, 4.0, 3.0, 60.0
    x = rng.geometric(0.3, n) - 1.0
    nu = rng.gamma(q, 1.0 / v, n)
    total = rng.gamma(p * np.maximum(x, 1), 1.0 / nu)      # sum of x Gamma(p, nu) spends
    m = np.where(x > 0, total / np.maximum(x, 1), 0.0)
    fit = clv.fit_gamma_gamma(x, m)
    assert fit["converged"] and fit["n"] == int((x > 0).sum())
    for k, true in (("p", p), ("q", q), ("v", v)):
        assert fit[k] == pytest.approx(true, rel=0.15), k
    true_mean = p / nu
    est = clv.expected_average_spend(fit, x, m)
    rep = x > 0
    # the posterior mean is closer to each customer's true mean spend than their raw average
    assert np.mean((est[rep] - true_mean[rep]) ** 2) < 0.9 * np.mean((m[rep] - true_mean[rep]) ** 2)


# --------------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------------

def test_clv_decreases_with_discount_rate(bg, gg, cdnow):
    sub = cdnow.iloc[:200]
    args = (sub.frequency, sub.recency, sub["T"], sub.monetary_value)
    values = np.array([clv.customer_lifetime_value(bg, gg, *args, horizon=12, discount_rate=d, period=4.345)
                       for d in (0.0, 0.01, 0.05, 0.2)])
    assert np.all(values > 0)
    assert np.all(np.diff(values, axis=0) < 0)


def test_undiscounted_clv_is_spend_times_expected_purchases(bg, gg, cdnow):
    sub = cdnow.iloc[:50]
    args = (sub.frequency, sub.recency, sub["T"])
    value = clv.customer_lifetime_value(bg, gg, *args, sub.monetary_value, horizon=6, discount_rate=0.0,
                                        period=4.345)
    expected = (clv.expected_average_spend(gg, sub.frequency, sub.monetary_value)
                * clv.expected_purchases(bg, 6 * 4.345, *args))
    np.testing.assert_allclose(value, expected, rtol=1e-10)


def test_clv_single_period_by_hand(bg, gg):
    value = clv.customer_lifetime_value(bg, gg, 3, 20.0, 30.0, 40.0, horizon=1, discount_rate=0.1, period=4.0)
    spend = clv.expected_average_spend(gg, 3, 40.0)[0]
    purchases = clv.expected_purchases(bg, 4.0, 3, 20.0, 30.0)[0]
    assert value[0] == pytest.approx(spend * purchases / 1.1, rel=1e-12)
    # a longer horizon only adds value
    longer = clv.customer_lifetime_value(bg, gg, 3, 20.0, 30.0, 40.0, horizon=5, discount_rate=0.1,
                                         period=4.0)
    assert longer[0] > value[0]


def test_score_customers_fits_and_scores(cdnow, bg, gg):
    out = clv.score_customers(cdnow, horizon=12, discount_rate=0.01, period=4.345)
    assert list(out.columns) == ["customer_id", "expected_purchases_12", "probability_alive",
                                 "expected_avg_spend", "clv"]
    assert len(out) == len(cdnow)
    assert out.index.equals(cdnow.index)
    assert out.attrs["bgnbd_params"]["r"] == pytest.approx(bg["r"], rel=1e-9)
    assert out.attrs["gg_params"]["p"] == pytest.approx(gg["p"], rel=1e-9)
    np.testing.assert_array_equal(out.customer_id.to_numpy(), cdnow.customer_id.to_numpy())
    first = cdnow.iloc[[0]]
    assert out.expected_purchases_12.iloc[0] == pytest.approx(
        clv.expected_purchases(bg, 12 * 4.345, first.frequency, first.recency, first["T"])[0], rel=1e-6)
    assert out.probability_alive.iloc[0] == pytest.approx(0.7266, abs=1e-4)
    assert out.expected_avg_spend.iloc[0] == pytest.approx(24.6586, abs=5e-4)
    assert out.clv.iloc[0] > 0 and np.all(out.clv >= 0)
    assert (out.probability_alive[cdnow.frequency == 0] == 1.0).all()


def test_score_customers_with_given_params_on_daily_data(bg, gg):
    # warehouse-style daily input with parameters supplied
    daily = {"r": bg["r"], "alpha": bg["alpha"] * 7, "a": bg["a"], "b": bg["b"]}
    df = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "frequency": [0, 4, 4],
                       "recency": [0, 200, 20], "T": [210, 210, 210], "monetary_value": [0.0, 30.0, 30.0]})
    out = clv.score_customers(df, daily, gg, horizon=3, period=30.0)
    assert "expected_purchases_3" in out.columns
    assert out.probability_alive.iloc[0] == 1.0
    assert out.probability_alive.iloc[1] > out.probability_alive.iloc[2]
    assert out.clv.iloc[1] > out.clv.iloc[2]


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------

GOOD = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
GG_GOOD = {"p": 6.25, "q": 3.74, "v": 15.45}


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "match"),
    [
        ([1, 2], [1.0], [2.0, 3.0], r"equal lengths.*recency=1"),
        ([1, np.nan], [1.0, 1.0], [2.0, 3.0], r"frequency contains 1 NaN.*position 1"),
        ([1, 2], [1.0, np.inf], [2.0, 3.0], r"recency contains .*position 1"),
        ([1, -1], [1.0, 1.0], [2.0, 3.0], r"frequency must lie in .*position 1: .*-1\.0"),
        ([1, 2.5], [1.0, 1.0], [2.0, 3.0], r"frequency must contain whole numbers.*position 1: 2.5"),
        ([1, 2], [1.0, -1.0], [2.0, 3.0], r"recency must lie in .*position 1"),
        ([1, 2, 3], [1.0, 4.0, 5.0], [2.0, 3.0, 4.0], r"exceed T; 2 .*position 1: recency=4.0, T=3.0"),
        ([1, 0], [1.0, 2.0], [2.0, 3.0], r"recency must be 0 where frequency is 0.*position 1"),
        (["a", 1], [1.0, 1.0], [2.0, 3.0], r"frequency must be numeric"),
        ([], [], [], r"at least one customer"),
    ],
)
def test_validation_errors_name_the_argument(frequency, recency, T, match):
    with pytest.raises(ValueError, match=match):
        clv.probability_alive(GOOD, frequency, recency, T)
    with pytest.raises(ValueError, match=match):
        clv.expected_purchases(GOOD, 10, frequency, recency, T)


def test_validation_of_params_and_options(cdnow):
    with pytest.raises(ValueError, match=r"params is missing key\(s\) alpha"):
        clv.probability_alive({"r": 1, "a": 1, "b": 1}, [1], [1.0], [2.0])
    with pytest.raises(ValueError, match=r"params\['b'\] must be a positive"):
        clv.probability_alive({**GOOD, "b": -1.0}, [1], [1.0], [2.0])
    with pytest.raises(ValueError, match="params must be a mapping"):
        clv.expected_purchases([0.2, 4, 0.8, 2], 10, [1], [1.0], [2.0])
    with pytest.raises(ValueError, match="t must be a non-negative"):
        clv.expected_purchases(GOOD, -1, [1], [1.0], [2.0])
    with pytest.raises(ValueError, match=r"t must be a scalar or have one value per customer \(1\), got 2"):
        clv.expected_purchases(GOOD, [1, 2], [1], [1.0], [2.0])
    with pytest.raises(ValueError, match="monetary_value must lie in .*position 0"):
        clv.expected_average_spend(GG_GOOD, [1], [-5.0])
    with pytest.raises(ValueError, match="expected spend is infinite"):
        clv.expected_average_spend({"p": 1.0, "q": 0.5, "v": 1.0}, [0], [0.0])
    args = (GOOD, GG_GOOD, [1], [1.0], [2.0], [10.0])
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        clv.customer_lifetime_value(*args, horizon=0)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        clv.customer_lifetime_value(*args, horizon=2.5)
    with pytest.raises(ValueError, match="discount_rate must be a non-negative"):
        clv.customer_lifetime_value(*args, discount_rate=-0.1)
    with pytest.raises(ValueError, match="period must be a positive"):
        clv.customer_lifetime_value(*args, period=0)
    with pytest.raises(ValueError, match="monetary_value contains 1 NaN"):
        clv.customer_lifetime_value(GOOD, GG_GOOD, [1], [1.0], [2.0], [np.nan])
    with pytest.raises(ValueError, match="penalizer must be a non-negative"):
        clv.fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow["T"], penalizer=-1)


def test_fit_validation():
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        clv.fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="no customer has frequency > 0"):
        clv.fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"monetary_value must be > 0 for customers with frequency > 0.*pos"
                                         r"ition 2: 0.0"):
        clv.fit_gamma_gamma([1, 0, 2, 3], [5.0, 0.0, 0.0, 4.0])
    with pytest.raises(ValueError, match="equal lengths"):
        clv.fit_gamma_gamma([1, 2], [5.0])


def test_score_customers_validation_names_the_customer():
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "frequency": [1, 0, 2], "recency": [5.0, 3.0, 8.0],
                       "T": [10.0, 10.0, 10.0], "monetary_value": [5.0, 0.0, 6.0]})
    with pytest.raises(ValueError, match=r"recency must be 0 where frequency is 0.*position 1.*"
                                         r"\(customer_id 'b'\)"):
        clv.score_customers(df, GOOD, GG_GOOD)
    with pytest.raises(ValueError, match=r"df is missing column\(s\) monetary_value"):
        clv.score_customers(df.drop(columns="monetary_value"), GOOD, GG_GOOD)
    dup = df.assign(customer_id=["a", "b", "a"], recency=[5.0, 0.0, 8.0])
    with pytest.raises(ValueError, match=r"customer_id must be unique; first duplicate at position 2: 'a'"):
        clv.score_customers(dup, GOOD, GG_GOOD)
    nan_t = df.assign(recency=[5.0, 0.0, 8.0], T=[10.0, np.nan, 10.0])
    with pytest.raises(ValueError, match=r"T contains 1 NaN.*position 1 \(customer_id 'b'\)"):
        clv.score_customers(nan_t, GOOD, GG_GOOD)
    with pytest.raises(ValueError, match="df must be a pandas DataFrame"):
        clv.score_customers({"customer_id": [1]}, GOOD, GG_GOOD)


def test_expected_purchases_at_a_equal_one_is_the_continuous_limit():
    # a = 1 makes eq. 10 a 0/0; the value must sit between its neighbours and agree with them closely
    x = np.array([0.0, 2.0, 9.0])
    tx = np.array([0.0, 12.0, 30.0])
    T = np.full(3, 35.0)
    at_one = clv.expected_purchases({"r": 0.3, "alpha": 5.0, "a": 1.0, "b": 2.0}, 20.0, x, tx, T)
    below = clv.expected_purchases({"r": 0.3, "alpha": 5.0, "a": 1.0 - 1e-4, "b": 2.0}, 20.0, x, tx, T)
    above = clv.expected_purchases({"r": 0.3, "alpha": 5.0, "a": 1.0 + 1e-4, "b": 2.0}, 20.0, x, tx, T)
    assert np.all(np.isfinite(at_one)) and np.all(at_one > 0)
    np.testing.assert_allclose(at_one, 0.5 * (below + above), rtol=1e-7)


def test_unidentified_fit_warns_and_reports_not_converged():
    # every customer bought at the very end of the window: no evidence of dropout at all
    x = np.tile([1.0, 2.0, 3.0, 4.0, 5.0], 20)
    T = np.full(100, 50.0)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = clv.fit_bgnbd(x, T, T)
    assert fit["converged"] is False


def test_expected_average_spend_rejects_fractional_frequency():
    with pytest.raises(ValueError, match=r"frequency must contain whole numbers.*position 1: 0.5"):
        clv.expected_average_spend(GG_GOOD, [1, 0.5], [10.0, 10.0])
    with pytest.raises(ValueError, match="at least one customer"):
        clv.fit_gamma_gamma([], [])
