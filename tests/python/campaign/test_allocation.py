"""Budgeted allocation of promotions (retail_lift.campaign.allocation): exact against brute force on small
problems, every constraint held, the rounded LP within 0.5 % of its bound, the greedy ratio rule never above
the solver, and bad input named."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from retail_lift.campaign import allocation
from retail_lift.campaign.allocation import AllocationError, allocate, greedy_allocation


def _instance(seed: int, n: int, p: int):
    rng = np.random.default_rng(seed)
    value = rng.normal(1.0, 1.5, size=(n, p))  # some pairs lose money: never chosen
    cost = rng.uniform(0.2, 3.0, size=(n, p))
    return value, cost


def _brute_force(value, cost, budget, capacity, channels, limits, eligible):
    n, p = value.shape
    best = 0.0
    for combo in itertools.product(range(-1, p), repeat=n):
        picked = [(i, j) for i, j in enumerate(combo) if j >= 0]
        if any(value[i, j] <= 0 or not eligible[i, j] for i, j in picked):
            continue
        if sum(cost[i, j] for i, j in picked) > budget + 1e-9:
            continue
        counts = np.bincount([j for _i, j in picked], minlength=p)
        if (counts > capacity).any():
            continue
        per_channel = {}
        for _i, j in picked:
            per_channel[channels[j]] = per_channel.get(channels[j], 0) + 1
        if any(per_channel.get(c, 0) > lim for c, lim in limits.items()):
            continue
        best = max(best, sum(value[i, j] for i, j in picked))
    return best


def _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible):
    picked = [(i, j) for i, j in enumerate(plan.choice) if j >= 0]
    assert all(eligible[i, j] and value[i, j] > 0 for i, j in picked)
    assert sum(cost[i, j] for i, j in picked) <= budget + 1e-6
    assert np.isclose(plan.cost, sum(cost[i, j] for i, j in picked))
    assert np.isclose(plan.value, sum(value[i, j] for i, j in picked))
    counts = np.bincount([j for _i, j in picked], minlength=value.shape[1])
    assert (counts <= capacity).all()
    for c, lim in limits.items():
        assert sum(1 for _i, j in picked if channels[j] == c) <= lim


@pytest.mark.parametrize("seed", range(8))
def test_exact_plan_equals_brute_force(seed):
    value, cost = _instance(seed, n=6, p=3)
    rng = np.random.default_rng(100 + seed)
    eligible = rng.random(value.shape) > 0.2
    budget, capacity = 4.0 + seed % 3, np.array([2, 3, 1])
    channels, limits = ["email", "email", "sms"], {"email": 3}
    plan = allocate(value, cost, budget=budget, capacity=capacity, channels=channels, channel_limits=limits,
                    eligible=eligible)
    assert plan.method == "milp"
    _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible)
    assert plan.value == pytest.approx(_brute_force(value, cost, budget, capacity, channels, limits, eligible),
                                       abs=1e-6)
    assert plan.upper_bound >= plan.value - 1e-9
    greedy = greedy_allocation(value, cost, budget=budget, capacity=capacity, channels=channels,
                               channel_limits=limits, eligible=eligible)
    _check_feasible(greedy, value, cost, budget, capacity, channels, limits, eligible)
    assert greedy.value <= plan.value + 1e-9


def test_rounded_lp_is_within_half_a_percent_of_its_bound():
    value, cost = _instance(7, n=20_000, p=5)
    capacity = np.array([3000, 3000, 2000, 4000, 1000])
    channels, limits = ["email", "email", "sms", "push", "sms"], {"sms": 2500, "email": 5000}
    eligible = np.ones(value.shape, dtype=bool)
    budget = 0.25 * float(np.clip(cost, 0, None).min(axis=1).sum())
    plan = allocate(value, cost, budget=budget, capacity=capacity, channels=channels, channel_limits=limits,
                    exact_max_pairs=0)
    assert plan.method == "lp-rounded"
    _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible)
    assert plan.gap <= 0.005
    greedy = greedy_allocation(value, cost, budget=budget, capacity=capacity, channels=channels,
                               channel_limits=limits)
    assert greedy.value <= plan.value + 1e-6
    assert greedy.upper_bound == pytest.approx(plan.upper_bound)


def test_no_budget_or_no_profitable_pair_plans_nobody():
    value, cost = _instance(1, n=10, p=2)
    plan = allocate(value, cost, budget=0.0)
    assert (plan.choice == -1).all() and plan.value == 0 and plan.cost == 0
    plan = allocate(-np.abs(value), cost, budget=100.0)
    assert (plan.choice == -1).all() and plan.gap == 0


def test_free_contacts_are_all_taken_when_they_pay():
    value = np.array([[1.0, 2.0], [0.5, -1.0], [-1.0, -2.0]])
    plan = allocate(value, np.zeros_like(value), budget=0.0)
    assert plan.choice.tolist() == [1, 0, -1] and plan.value == pytest.approx(2.5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cost": [[1.0, -0.5], [1.0, 1.0]]}, "cost is negative for customer row 0, promotion 1"),
    ({"cost": [[1.0, np.nan], [1.0, 1.0]]}, "cost is missing or not finite for customer row 0, promotion 1"),
    ({"value": [[1.0, 1.0], [np.nan, 1.0]]}, "value is missing or not finite for customer row 1, promotion 0"),
    ({"budget": -1.0}, "budget must be a non-negative number"),
    ({"budget": None}, "budget must be a non-negative number"),
    ({"capacity": [1]}, "capacity must give a non-negative number per promotion (2)"),
    ({"channels": ["email"]}, "channels must name one channel per promotion (2)"),
    ({"channels": ["email", "sms"], "channel_limits": {"push": 1}}, "channel_limits names channels no promotion uses"),
    ({"value": [1.0, 2.0]}, "value and cost must be customer x promotion matrices"),
])
def test_bad_input_is_named(kwargs, message):
    args = {"value": [[1.0, 2.0], [3.0, 1.0]], "cost": [[1.0, 1.0], [1.0, 1.0]], "budget": 5.0, **kwargs}
    value, cost, budget = args.pop("value"), args.pop("cost"), args.pop("budget")
    with pytest.raises(AllocationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        allocate(value, cost, budget=budget, **args)


# --- the LP relaxation by decomposition (above DIRECT_LP_MAX_PAIRS) and the vectorised ratio rule -----------------

def _ratio_rule(value, cost, budget, capacity, channels, limits, eligible):
    """The greedy ratio rule one pair at a time, as its definition reads (the reference for the vectorised one)."""
    n, p = value.shape
    keep = (value > 0) & eligible & (cost <= budget + 1e-9)
    rows, cols = np.nonzero(keep)
    v, c = value[rows, cols], cost[rows, cols]
    ratio = np.where(c > 0, v / np.where(c > 0, c, 1), np.inf)
    choice, spent = np.full(n, -1), 0.0
    per_promo, per_channel = np.zeros(p), {}
    for k in np.lexsort((-v, -ratio)):
        i, j = rows[k], cols[k]
        ch = channels[j]
        if choice[i] >= 0 or spent + c[k] > budget + 1e-9 or per_promo[j] + 1 > capacity[j] \
                or per_channel.get(ch, 0) + 1 > limits.get(ch, np.inf):
            continue
        choice[i], spent = j, spent + c[k]
        per_promo[j] += 1
        per_channel[ch] = per_channel.get(ch, 0) + 1
    return choice


def _scenario(kind: str, seed: int, n: int, p: int):
    """Random problems of several shapes: continuous values, values and costs on a coarse grid (many ties),
    groups of identical customers, a budget and capacities that bind hard, a promotion and a channel with a
    limit of 0, sparse eligibility and free contacts."""
    rng = np.random.default_rng(seed)
    value, cost = _instance(seed, n, p)
    channels = (["email", "sms", "push"] * p)[:p]
    capacity = rng.uniform(0.05, 0.3, p) * n
    limits = {"email": 0.3 * n, "sms": 0.1 * n}
    limits = {c: lim for c, lim in limits.items() if c in channels}
    eligible = np.ones((n, p), dtype=bool)
    budget = 0.25 * float(cost.min(axis=1).sum())
    if kind == "grid":
        value, cost = np.round(value * 2) / 2, np.round(cost * 2) / 2
    elif kind == "identical":
        kinds = rng.integers(0, 6, n)
        value, cost = value[kinds], cost[kinds]
    elif kind == "tight":
        budget *= 0.02
        capacity *= 0.05
    elif kind == "closed":  # a promotion and a channel closed: what the first prices fix there must be freed
        capacity[-1] = 0
        limits = {c: 0 if c == "sms" else lim for c, lim in limits.items()}
    elif kind == "sparse":
        eligible = rng.random((n, p)) > 0.7
        cost[rng.random((n, p)) < 0.05] = 0.0
    return value, cost, budget, capacity, channels, limits, eligible


KINDS = ["continuous", "grid", "identical", "tight", "closed", "sparse"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_vectorised_ratio_rule_equals_one_pair_at_a_time(kind, seed):
    value, cost, budget, capacity, channels, limits, eligible = _scenario(kind, seed, n=3000, p=4)
    greedy = greedy_allocation(value, cost, budget=budget, capacity=capacity, channels=channels,
                               channel_limits=limits, eligible=eligible)
    assert greedy.choice.tolist() == _ratio_rule(value, cost, budget, capacity, channels, limits,
                                                 eligible).tolist()


@pytest.fixture
def small_decomposition(monkeypatch):
    """The decomposition on problems small enough for the exact MILP: every problem above 0 pairs is decomposed,
    from a sample of 60 customers and a first core of 40."""
    monkeypatch.setattr(allocation, "DIRECT_LP_MAX_PAIRS", 0)
    monkeypatch.setattr(allocation, "_SAMPLE_CUSTOMERS", 60)
    monkeypatch.setattr(allocation, "_CORE_CUSTOMERS", 40)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("seed", "p"), [(0, 1), (1, 3), (2, 5)])
def test_decomposed_bound_is_above_the_exact_optimum(small_decomposition, kind, seed, p):
    value, cost, budget, capacity, channels, limits, eligible = _scenario(kind, seed, n=400, p=p)
    args = {"budget": budget, "capacity": capacity, "channels": channels, "channel_limits": limits,
            "eligible": eligible}
    exact = allocate(value, cost, **args, exact_max_pairs=10**6, time_limit=30)
    assert exact.method == "milp"
    plan = allocate(value, cost, **args, exact_max_pairs=0)
    assert plan.method == "lp-rounded"
    _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible)
    assert plan.upper_bound >= exact.value - 1e-6  # the bound bounds the best plan
    assert plan.value <= exact.value + 1e-6
    assert exact.value - plan.value <= plan.gap * plan.upper_bound + 1e-6  # the reported gap is no smaller


@pytest.mark.parametrize("kind", KINDS)
def test_decomposed_lp_reaches_the_whole_lp(monkeypatch, kind):
    value, cost, budget, capacity, channels, limits, eligible = _scenario(kind, 5, n=6000, p=4)
    args = {"budget": budget, "capacity": capacity, "channels": channels, "channel_limits": limits,
            "eligible": eligible, "exact_max_pairs": 0}
    monkeypatch.setattr(allocation, "DIRECT_LP_MAX_PAIRS", 10**9)
    whole = allocate(value, cost, **args)
    monkeypatch.setattr(allocation, "DIRECT_LP_MAX_PAIRS", 0)
    monkeypatch.setattr(allocation, "_SAMPLE_CUSTOMERS", 800)
    monkeypatch.setattr(allocation, "_CORE_CUSTOMERS", 500)
    plan = allocate(value, cost, **args)
    _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible)
    assert plan.upper_bound >= whole.upper_bound * (1 - 1e-9)  # a Lagrangian bound is never below the LP
    assert plan.upper_bound <= whole.upper_bound * (1 + 1e-4)
    assert plan.value >= whole.value * (1 - 1e-3)
    # (the rounding, not the decomposition, sets the gap on the tight problem: 89 customers planned, 0.50 %)
    assert plan.gap <= max(0.005, whole.gap + 1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_feasible_and_within_half_a_percent_at_scale(kind):
    value, cost, budget, capacity, channels, limits, eligible = _scenario(kind, 11, n=50_000, p=5)
    args = {"budget": budget, "capacity": capacity, "channels": channels, "channel_limits": limits,
            "eligible": eligible}
    plan = allocate(value, cost, **args)
    assert plan.method == "lp-rounded"
    _check_feasible(plan, value, cost, budget, capacity, channels, limits, eligible)
    assert plan.gap <= 0.005
    greedy = greedy_allocation(value, cost, **args)
    _check_feasible(greedy, value, cost, budget, capacity, channels, limits, eligible)
    # the bound holds for the greedy plan too (on "tight", 2,628.5, the greedy plan 2,627.8 is above the
    # rounded LP's 2,626.7: rounding drops fractional pairs of a plan of ~300 customers)
    assert greedy.value <= plan.upper_bound + 1e-6
    assert greedy.upper_bound == pytest.approx(plan.upper_bound)
