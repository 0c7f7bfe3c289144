"""Budgeted allocation of promotions: at most one promotion per customer, or none, maximising expected
incremental margin under a total budget, per-promotion capacities and per-channel contact limits.

The problem (customers ``i``, promotions ``j``, ``x[i, j]`` in {0, 1}):

    maximise    sum value[i, j] * x[i, j]
    subject to  sum_j x[i, j] <= 1                                  (one promotion per customer)
                sum cost[i, j] * x[i, j] <= budget                  (discount plus contact cost)
                sum_i x[i, j] <= capacity[j]                        (per promotion)
                sum_{i, j: channel[j] = c} x[i, j] <= limit[c]      (per channel)
                x[i, j] = 0 where not eligible[i, j] or value[i, j] <= 0

``value`` is the expected incremental margin of giving promotion ``j`` to customer ``i`` (uplift times margin,
minus the expected discount cost), ``cost`` what it spends (expected discount plus contact cost). The numbers
come from the caller; this module knows nothing of uplift models, the warehouse or dbt.

:func:`allocate` solves it exactly with HiGHS' mixed-integer solver (``scipy.optimize.milp``) when the
problem has at most ``exact_max_pairs`` candidate pairs; above that it solves the LP relaxation, keeps the
integral part of its solution, drops the few fractional pairs (an extreme point of this LP has at most as
many fractional variables as it has coupling constraints: budget, capacities, channel limits) and refills
what budget they leave greedily. :func:`greedy_allocation` is the ratio rule (best value per unit of cost
first), kept as the reference the solver is compared with.

The LP relaxation is solved whole (HiGHS) up to :data:`DIRECT_LP_MAX_PAIRS` candidate pairs. Above that it
is solved by decomposition on its few coupling constraints: only they tie customers together, so given
their dual prices ``y`` (budget, capacities, channel limits) each customer's best option is the pair of
largest reduced value ``value[i, j] - y . a[i, j]`` (or none when no reduced value is positive). Prices come
from the LP of a random sample of customers (limits scaled to its share); customers whose best option
leads the second by a wide margin are fixed to it; the LP of the remaining "core" customers (HiGHS
interior point with crossover, on what the fixed customers leave of each limit) gives new prices; fixed
customers whose option is no longer best under them join the core, until none is left (then the combined
solution is an optimum of the whole LP) or :data:`_CORE_ROUNDS` rounds have passed.

Either way the bound is honest: for any prices ``y >= 0`` the Lagrangian dual
``sum_i max(0, max_j value[i, j] - y . a[i, j]) + y . b`` bounds the LP relaxation, hence every plan, from
above; the decomposition reports the smallest it met, the whole LP its optimum. Every result reports its
``gap`` to that bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = ["Allocation", "AllocationError", "allocate", "greedy_allocation"]

#: the largest number of candidate (customer, promotion) pairs solved as a mixed-integer program (measured
#: 2026-12-07 on 2 loaded cores: 100,000 pairs did not finish within the 60 s limit, the rounded LP took 16 s
#: with a gap of 9e-6)
EXACT_MAX_PAIRS = 10_000
#: the largest number of candidate pairs whose LP relaxation is solved whole; above, by decomposition
DIRECT_LP_MAX_PAIRS = 20_000
#: customers in the sample whose LP gives the decomposition its first prices
_SAMPLE_CUSTOMERS = 20_000
#: customers in the decomposition's first core (the smallest margins between best and second option) at most
#: and at least
_CORE_CUSTOMERS = 20_000
_CORE_MIN = 2_000
#: at most this many core LPs; the bound stays valid if the last one is not optimal for the whole LP
_CORE_ROUNDS = 8
#: the decomposition stops once its LP solution is this close to the bound (relative)
_CORE_GAP = 1e-5
_TOL = 1e-9


class AllocationError(ValueError):
    """Inputs an allocation cannot be computed from; the message names the input."""


@dataclass(frozen=True)
class Allocation:
    """The chosen promotion per customer (``-1``: none) and the plan's totals."""

    #: promotion index per customer, -1 for no promotion
    choice: np.ndarray
    #: expected incremental margin of the plan
    value: float
    #: what the plan spends (discount plus contact cost)
    cost: float
    #: the LP relaxation's optimum (or, above :data:`DIRECT_LP_MAX_PAIRS`, a Lagrangian bound on it): no
    #: plan does better
    upper_bound: float
    #: (upper_bound - value) / upper_bound, 0 when the bound is 0
    gap: float
    #: "milp" (exact, gap within HiGHS' tolerance), "lp-rounded" or "greedy"
    method: str


@dataclass(frozen=True)
class _Problem:
    value: np.ndarray  # (n, p)
    cost: np.ndarray  # (n, p)
    budget: float
    capacity: np.ndarray  # (p,), inf when unlimited
    channel_of: np.ndarray  # (p,) channel index
    channel_limit: np.ndarray  # (channels,)
    keep: np.ndarray  # (n, p) candidate pairs
    rows: np.ndarray  # customer of each candidate pair (row-major order of keep)
    cols: np.ndarray  # promotion of each candidate pair
    pair_value: np.ndarray  # value of each candidate pair
    pair_cost: np.ndarray  # cost of each candidate pair


@dataclass(frozen=True)
class _Prices:
    """Dual prices of the coupling constraints (0 where a limit is infinite)."""

    budget: float
    capacity: np.ndarray  # (p,)
    channel: np.ndarray  # (channels,)


def _problem(value, cost, *, budget, capacity, channels, channel_limits, eligible) -> _Problem:  # noqa: PLR0913 - one keyword per constraint of the problem
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if value.ndim != 2 or cost.shape != value.shape:
        raise AllocationError(f"value and cost must be customer x promotion matrices of one shape, got "
                              f"{value.shape} and {cost.shape}")
    n, p = value.shape
    for name, arr in (("value", value), ("cost", cost)):
        bad = ~np.isfinite(arr)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise AllocationError(f"{name} is missing or not finite for customer row {i}, promotion {j} "
                                  f"({int(bad.sum())} such cells)")
    if (cost < 0).any():
        i, j = np.argwhere(cost < 0)[0]
        raise AllocationError(f"cost is negative for customer row {i}, promotion {j}: {cost[i, j]}")
    if budget is None or not np.isfinite(budget) or budget < 0:
        raise AllocationError(f"budget must be a non-negative number, got {budget!r}")
    capacity = np.full(p, np.inf) if capacity is None else np.asarray(capacity, dtype=float)
    if capacity.shape != (p,) or (capacity < 0).any():
        raise AllocationError(f"capacity must give a non-negative number per promotion ({p}), got {capacity!r}")
    channels = ["all"] * p if channels is None else list(channels)
    if len(channels) != p:
        raise AllocationError(f"channels must name one channel per promotion ({p}), got {len(channels)}")
    names = sorted(set(channels))
    limits = dict(channel_limits or {})
    unknown = set(limits) - set(names)
    if unknown:
        raise AllocationError(f"channel_limits names channels no promotion uses: {sorted(unknown)}")
    channel_limit = np.array([float(limits.get(c, np.inf)) for c in names])
    if (channel_limit < 0).any():
        raise AllocationError(f"channel_limits must be non-negative, got {limits}")
    keep = value > 0
    if eligible is not None:
        eligible = np.asarray(eligible, dtype=bool)
        if eligible.shape != value.shape:
            raise AllocationError(f"eligible must have the shape of value {value.shape}, got {eligible.shape}")
        keep &= eligible
    keep &= cost <= budget + _TOL
    rows, cols = np.nonzero(keep)
    return _Problem(value, cost, float(budget), capacity, np.array([names.index(c) for c in channels]),
                    channel_limit, keep, rows, cols, value[keep], cost[keep])


def _rows(pb: _Problem, pairs: np.ndarray, customer: np.ndarray, customers: np.ndarray, limits):
    """The rows of A x <= b over ``pairs`` (``customer``: their row; ``customers``: each row's bound, 1 per
    customer or the size of a group of identical ones): one per row, the budget, one per promotion and channel
    with a finite limit, with ``limits`` = (budget, capacity, channel_limit). Also which promotions and channels
    have a row."""
    budget, capacity, channel_limit = limits
    m = len(pairs)
    k = np.arange(m)
    cols = pb.cols[pairs]
    blocks = [sparse.csr_matrix((np.ones(m), (customer, k)), shape=(len(customers), m)),
              sparse.csr_matrix(pb.pair_cost[pairs].reshape(1, m))]
    bounds = [customers, np.array([budget])]
    finite_cap = np.flatnonzero(np.isfinite(capacity))
    if len(finite_cap):
        blocks.append(sparse.csr_matrix((np.ones(m), (cols, k)), shape=(len(capacity), m))[finite_cap])
        bounds.append(capacity[finite_cap])
    finite_ch = np.flatnonzero(np.isfinite(channel_limit))
    if len(finite_ch):
        chan = sparse.csr_matrix((np.ones(m), (pb.channel_of[cols], k)), shape=(len(channel_limit), m))
        blocks.append(chan[finite_ch])
        bounds.append(channel_limit[finite_ch])
    return sparse.vstack(blocks).tocsr(), np.concatenate(bounds), finite_cap, finite_ch


def _lp(pb: _Problem, pairs: np.ndarray, customer: np.ndarray, customers: np.ndarray, limits, method: str):  # noqa: PLR0913 - the LP's parts, one each
    """The LP relaxation over ``pairs`` (rows as :func:`_rows` builds them; a pair's variable is bounded by its
    row's bound): its optimum, solution and the coupling constraints' dual prices."""
    a, b, finite_cap, finite_ch = _rows(pb, pairs, customer, customers, limits)
    single = bool((customers == 1).all())
    res = linprog(-pb.pair_value[pairs], A_ub=a, b_ub=b, method=method,
                  bounds=(0, 1) if single else np.column_stack([np.zeros(len(pairs)), customers[customer]]))
    if res.status != 0:
        raise AllocationError(f"the LP relaxation failed: {res.message}")
    dual = np.clip(-res.ineqlin.marginals[len(customers):], 0, None)
    cap_price = np.zeros(len(pb.capacity))
    cap_price[finite_cap] = dual[1:1 + len(finite_cap)]
    ch_price = np.zeros(len(pb.channel_limit))
    ch_price[finite_ch] = dual[1 + len(finite_cap):]
    return float(-res.fun), res.x, _Prices(float(dual[0]), cap_price, ch_price)


def _reduced(pb: _Problem, y: _Prices) -> np.ndarray:
    """Reduced value of every (customer, promotion) under the prices, -inf where the pair is no candidate."""
    r = pb.value - y.budget * pb.cost
    r -= (y.capacity + y.channel[pb.channel_of])[None, :]
    r[~pb.keep] = -np.inf
    return r


def _dual_bound(pb: _Problem, y: _Prices, best: np.ndarray) -> float:
    """The Lagrangian dual at ``y`` (``best``: each customer's largest reduced value): an upper bound on the LP."""
    bound = float(np.maximum(best, 0).sum()) + y.budget * pb.budget
    finite = np.isfinite(pb.capacity)
    bound += float(y.capacity[finite] @ pb.capacity[finite])
    finite = np.isfinite(pb.channel_limit)
    return bound + float(y.channel[finite] @ pb.channel_limit[finite])


def _usage(pb: _Problem, customers: np.ndarray, choice: np.ndarray):
    """Budget, per-promotion and per-channel use of ``customers`` given ``choice`` (-1: none)."""
    on = customers[choice[customers] >= 0]
    j = choice[on]
    return (float(pb.cost[on, j].sum()), np.bincount(j, minlength=len(pb.capacity)),
            np.bincount(pb.channel_of[j], minlength=len(pb.channel_limit)))


def _lp_decomposed(pb: _Problem) -> tuple[float, np.ndarray]:  # noqa: PLR0914 - the steps of the decomposition, one name each
    """The LP relaxation by decomposition on the coupling constraints (module docstring): the Lagrangian
    bound and a feasible LP solution over the candidate pairs (optimal when the last core LP is)."""
    n, p = pb.value.shape
    active = np.flatnonzero(pb.keep.any(axis=1))  # customers with at least one candidate pair
    limits = (pb.budget, pb.capacity, pb.channel_limit)
    rng = np.random.default_rng(0)
    if len(active) <= _SAMPLE_CUSTOMERS:
        sample = active
    else:
        sample = np.sort(rng.choice(active, _SAMPLE_CUSTOMERS, replace=False))
    share = len(sample) / len(active)
    in_sample = np.zeros(n, dtype=bool)
    in_sample[sample] = True
    pairs = np.flatnonzero(in_sample[pb.rows])
    local = np.cumsum(in_sample) - 1
    bound, x_sample, y = _lp(pb, pairs, local[pb.rows[pairs]], np.ones(len(sample)),
                             tuple(limit * share for limit in limits), "highs-ipm")
    if share == 1:
        return bound, x_sample
    r = _reduced(pb, y)
    top = r.max(axis=1)
    choice = np.where(top > 0, r.argmax(axis=1), -1)
    second = np.partition(r, p - 2, axis=1)[:, p - 2] if p > 1 else np.full(n, -np.inf)
    margin = np.where(top > 0, top - np.maximum(second, 0), -top)  # lead of the best option over the next
    bound = _dual_bound(pb, y, top)
    # the first core: the customers of smallest margin, twice as many as the prices plan (a small plan's LP
    # over many near-tied customers is slow), at least _CORE_MIN and at most _CORE_CUSTOMERS
    size = int(np.clip(2 * (choice >= 0).sum(), min(_CORE_MIN, len(active)), min(_CORE_CUSTOMERS, len(active))))
    core = np.zeros(n, dtype=bool)
    core[np.argpartition(margin, size - 1)[:size]] = True
    _release(pb, core, choice, margin)
    tol = 1e-9 * max(1.0, float(np.abs(pb.pair_value).max()))
    for _round in range(_CORE_ROUNDS):
        spent, per_promo, per_channel = _usage(pb, np.flatnonzero(~core), choice)
        left = (max(pb.budget - spent, 0.0), np.maximum(pb.capacity - per_promo, 0),
                np.maximum(pb.channel_limit - per_channel, 0))
        members = np.flatnonzero(core)
        group, first, weight = _groups(pb, members)
        leads = np.zeros(n, dtype=bool)
        leads[first] = True
        pairs = np.flatnonzero(leads[pb.rows])  # the pairs of each group's first customer stand for the group
        core_value, x_core, y = _lp(pb, pairs, group[np.searchsorted(members, pb.rows[pairs])],
                                    weight.astype(float), left, "highs-ipm")
        r = _reduced(pb, y)
        top = r.max(axis=1)
        bound = min(bound, _dual_bound(pb, y, top))
        fixed = np.flatnonzero(~core)
        held = np.where(choice[fixed] >= 0, r[fixed, np.maximum(choice[fixed], 0)], 0.0)
        loss = np.maximum(top[fixed], 0) - held  # what each fixed customer's option lags the best one now
        lp_value = core_value + float(pb.value[fixed, np.maximum(choice[fixed], 0)][choice[fixed] >= 0].sum())
        if not (loss > tol).any() or bound - lp_value <= _CORE_GAP * abs(bound):
            break  # optimal, or near enough: rounding loses more
        worse = np.flatnonzero(loss > tol)
        if len(worse) > size:  # (ties: many lag by little) the groups of identical customers that lag most
            group, first, _weight = _groups(pb, fixed[worse])
            lag = loss[worse][np.searchsorted(fixed[worse], first)]
            worse = worse[np.isin(group, np.argsort(-lag, kind="stable")[:size])]
        core[fixed[worse]] = True
    choice[members] = _spread(pb, members, group, pairs, np.floor(x_core + 1e-7))
    on = np.flatnonzero(choice >= 0)
    x = np.zeros(len(pb.rows))
    x[np.searchsorted(pb.rows * p + pb.cols, on * p + choice[on])] = 1.0
    return bound, x


def _release(pb: _Problem, core: np.ndarray, choice: np.ndarray, margin: np.ndarray) -> None:
    """Move fixed customers into ``core`` until what the fixed ones use fits every limit: for each limit they
    exceed, its users of smallest margin, as many as it takes."""
    while True:
        fixed = np.flatnonzero(~core & (choice >= 0))
        fixed = fixed[np.argsort(margin[fixed], kind="stable")]
        j = choice[fixed]
        use = [(pb.cost[fixed, j], pb.budget)]
        use += [((j == q).astype(float), pb.capacity[q]) for q in np.flatnonzero(np.isfinite(pb.capacity))]
        use += [((pb.channel_of[j] == q).astype(float), pb.channel_limit[q])
                for q in np.flatnonzero(np.isfinite(pb.channel_limit))]
        for amount, limit in use:
            users = np.flatnonzero(amount > 0)
            total = np.cumsum(amount[users])
            if len(total) and total[-1] > limit + _TOL:
                core[fixed[users[:np.searchsorted(total, total[-1] - limit - _TOL) + 1]]] = True
                break
        else:
            return


def _groups(pb: _Problem, customers: np.ndarray):
    """Customers with identical candidate pairs (value and cost) form a group, solved as one LP row: the group
    of each of ``customers`` (row of the first of its group), the first customer of each group (ascending) and
    each group's size."""
    keep = pb.keep[customers]
    key = np.concatenate([np.where(keep, pb.value[customers], -np.inf), np.where(keep, pb.cost[customers], 0.0)],
                         axis=1)
    _key, first, group, size = np.unique(key, axis=0, return_index=True, return_inverse=True,
                                         return_counts=True)
    order = np.argsort(first)  # groups numbered by their first customer
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[group.ravel()], customers[first[order]], size[order]


def _spread(pb: _Problem, customers: np.ndarray, group: np.ndarray, pairs: np.ndarray, count: np.ndarray):
    """The promotion (-1: none) of each of ``customers``: ``count[k]`` members of the group of pair ``k``'s
    customer get its promotion, in customer order and promotion order within the group."""
    pair_group = group[np.searchsorted(customers, pb.rows[pairs])]
    order = np.lexsort((pb.cols[pairs], pair_group))
    taken = count[order].astype(int)
    promos = np.repeat(pb.cols[pairs][order], taken)  # per group, its members' promotions in a row
    per_group = np.bincount(pair_group[order], weights=taken, minlength=group.max() + 1).astype(int)
    start = np.cumsum(per_group) - per_group
    members = np.argsort(group, kind="stable")  # the customers group by group, in customer order
    sizes = np.bincount(group)
    rank = np.arange(len(members)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    g = group[members]
    choice = np.full(len(customers), -1)
    has = rank < per_group[g]
    choice[members[has]] = promos[start[g[has]] + rank[has]]
    return choice


def _lp_relaxation(pb: _Problem) -> tuple[float, np.ndarray]:
    """An upper bound on every plan and a feasible solution of the LP relaxation (optimal when solved whole)."""
    if len(pb.rows) <= DIRECT_LP_MAX_PAIRS:
        bound, x, _y = _lp(pb, np.arange(len(pb.rows)), pb.rows, np.ones(pb.value.shape[0]),
                           (pb.budget, pb.capacity, pb.channel_limit), "highs")
        return bound, x
    return _lp_decomposed(pb)


def _constraints(pb: _Problem) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The rows of A x <= b of the whole problem (for the MILP)."""
    a, b, _cap, _ch = _rows(pb, np.arange(len(pb.rows)), pb.rows, np.ones(pb.value.shape[0]),
                            (pb.budget, pb.capacity, pb.channel_limit))
    return a, b


@dataclass
class _State:
    """What a partial plan uses: customers taken, budget spent, contacts per promotion and channel."""

    taken: np.ndarray
    spent: float
    per_promo: np.ndarray
    per_channel: np.ndarray

    @classmethod
    def of(cls, pb: _Problem, chosen: np.ndarray) -> _State:
        picked = chosen > 0
        taken = np.zeros(pb.value.shape[0], dtype=bool)
        taken[pb.rows[picked]] = True
        return cls(taken, float(pb.pair_cost @ chosen),
                   np.bincount(pb.cols[picked], minlength=len(pb.capacity)).astype(float),
                   np.bincount(pb.channel_of[pb.cols[picked]], minlength=len(pb.channel_limit)).astype(float))

    def can_add(self, pb: _Problem, pairs: np.ndarray) -> np.ndarray:
        """Which of ``pairs`` could still be added one at a time (each limit only fills: the others never can)."""
        j = pb.cols[pairs]
        ch = pb.channel_of[j]
        return (~self.taken[pb.rows[pairs]] & (self.spent + pb.pair_cost[pairs] <= pb.budget + _TOL)
                & (self.per_promo[j] + 1 <= pb.capacity[j]) & (self.per_channel[ch] + 1 <= pb.channel_limit[ch]))


def _first_violation(pb: _Problem, state: _State, first: np.ndarray, j: np.ndarray, c: np.ndarray):
    """Position of the first pair among ``first`` (each a customer's first open pair, in order) that would break
    a limit if all before it were taken (``len(first)`` when none would), and the running spend."""
    spent = np.cumsum(np.concatenate(([state.spent], np.where(first, c, 0.0))))[1:]
    bad = first & (spent > pb.budget + _TOL)
    for limit, used, of in ((pb.capacity, state.per_promo, j), (pb.channel_limit, state.per_channel,
                                                               pb.channel_of[j])):
        for q in np.flatnonzero(np.isfinite(limit)):
            mine = first & (of == q)
            if mine.any():
                bad |= mine & (used[q] + np.cumsum(mine) > limit[q])
    return (int(np.argmax(bad)) if bad.any() else len(first)), spent


def _fill_greedy(pb: _Problem, chosen: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Add ``candidates`` (pair indices, best ratio first) to ``chosen`` (a 0/1 vector over pairs) while every
    constraint holds: the result of taking them one at a time, computed a window of pairs at a time (within a
    window, each customer's first open pair is taken up to the first that would break a limit)."""
    state = _State.of(pb, chosen)
    candidates = candidates[state.can_add(pb, candidates)]
    cheapest_left = np.minimum.accumulate(pb.pair_cost[candidates][::-1])[::-1]
    pos, width = 0, 4096
    while pos < len(candidates):
        if state.spent + cheapest_left[pos] > pb.budget + _TOL:
            break  # no candidate from here on fits in the budget
        window = candidates[pos:pos + width]
        where = np.flatnonzero(state.can_add(pb, window))
        pairs = window[where]
        first = np.zeros(len(pairs), dtype=bool)
        first[np.unique(pb.rows[pairs], return_index=True)[1]] = True
        stop, spent = _first_violation(pb, state, first, pb.cols[pairs], pb.pair_cost[pairs])
        take = pairs[:stop][first[:stop]]
        chosen[take] = 1
        state.taken[pb.rows[take]] = True
        state.spent = float(spent[stop - 1]) if stop else state.spent
        state.per_promo += np.bincount(pb.cols[take], minlength=len(pb.capacity))
        state.per_channel += np.bincount(pb.channel_of[pb.cols[take]], minlength=len(pb.channel_limit))
        if stop < len(pairs):  # that pair breaks a limit: it never fits; go on after it
            pos += int(where[stop]) + 1
            width = max(width // 2, 256)
        else:
            pos += len(window)
            width *= 2
    return chosen


def _ratio_order(pb: _Problem, pairs: np.ndarray) -> np.ndarray:
    v = pb.pair_value[pairs]
    c = pb.pair_cost[pairs]
    ratio = np.where(c > 0, v / np.where(c > 0, c, 1), np.inf)
    order = np.argsort(-ratio, kind="stable")  # as np.lexsort((-v, -ratio)), sorting only ties by value
    ratio = ratio[order]
    same = ratio[1:] == ratio[:-1]
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        at = np.flatnonzero(tied)
        run = np.cumsum(np.concatenate(([True], ~same)))[at]
        order[at] = order[at][np.lexsort((-v[order[at]], run))]
    return pairs[order]


def _refill(pb: _Problem, x: np.ndarray) -> np.ndarray:
    """``x`` with the pairs it leaves out added greedily by ratio (only those that could still fit are sorted)."""
    left = np.flatnonzero(x < 0.5)
    return _fill_greedy(pb, x, _ratio_order(pb, left[_State.of(pb, x).can_add(pb, left)]))


def _result(pb: _Problem, x: np.ndarray, bound: float, method: str) -> Allocation:
    n, _p = pb.value.shape
    choice = np.full(n, -1)
    picked = x > 0.5
    choice[pb.rows[picked]] = pb.cols[picked]
    value = float(pb.pair_value[picked].sum())
    cost = float(pb.pair_cost[picked].sum())
    gap = (bound - value) / bound if bound > _TOL else 0.0
    return Allocation(choice, value, cost, bound, max(gap, 0.0), method)


def _solve(value, cost, method: str, *, exact_max_pairs: int = 0, time_limit: float = 60.0,
           **constraints) -> Allocation:
    pb = _problem(value, cost, **constraints)
    if len(pb.rows) == 0:
        return _result(pb, np.zeros(0), 0.0, method)
    bound, x_lp = _lp_relaxation(pb)
    if method == "greedy":
        x = _fill_greedy(pb, np.zeros(len(pb.rows)), _ratio_order(pb, np.arange(len(pb.rows))))
        return _result(pb, x, bound, "greedy")
    if len(pb.rows) <= exact_max_pairs:
        a, b = _constraints(pb)
        res = milp(-pb.pair_value, constraints=LinearConstraint(a, -np.inf, b),
                   integrality=np.ones(len(pb.rows)), bounds=Bounds(0, 1),
                   options={"time_limit": time_limit, "mip_rel_gap": 1e-6})
        if res.x is not None:
            return _result(pb, _refill(pb, np.round(res.x)), bound, "milp")
    return _result(pb, _refill(pb, np.where(x_lp > 1 - 1e-7, 1.0, 0.0)), bound, "lp-rounded")


def allocate(value, cost, *, budget: float, capacity: Sequence[float] | None = None,  # noqa: PLR0913 - the problem's constraints, one keyword each
             channels: Sequence[str] | None = None, channel_limits: Mapping[str, float] | None = None,
             eligible=None, exact_max_pairs: int = EXACT_MAX_PAIRS, time_limit: float = 60.0) -> Allocation:
    """The plan that maximises expected incremental margin (module docstring); ``gap`` says how far it can be
    from the best plan. Pairs with no positive value, not eligible, or costing more than the whole budget are
    never chosen."""
    return _solve(value, cost, "milp", exact_max_pairs=exact_max_pairs, time_limit=time_limit, budget=budget,
                  capacity=capacity, channels=channels, channel_limits=channel_limits, eligible=eligible)


def greedy_allocation(value, cost, *, budget: float, capacity: Sequence[float] | None = None,  # noqa: PLR0913 - the same keywords as allocate
                      channels: Sequence[str] | None = None, channel_limits: Mapping[str, float] | None = None,
                      eligible=None) -> Allocation:
    """The ratio rule: pairs by expected value per unit of cost, best first, each taken while the customer has
    none yet and every limit holds. The reference :func:`allocate` is compared with."""
    return _solve(value, cost, "greedy", budget=budget, capacity=capacity, channels=channels,
                  channel_limits=channel_limits, eligible=eligible)
