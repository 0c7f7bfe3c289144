r"""One pre-registered decision per experiment × variant (issue 20, item 3).

:func:`decide_variants` turns the daily *cumulative* sufficient statistics of one experiment and its
registry entry (:class:`~retail_lift.experiments.registry.ExperimentSpec`) into one
:class:`VariantDecision` per treatment variant. :func:`decide_experiments` does it for a long frame
of many experiments. The older per-metric :func:`~retail_lift.experiments.decide` is unchanged.

Input (:class:`ExperimentLooks`)
--------------------------------
Per look date (one a day) and per variant × metric, the statistics ``fct_experiment_variant_stats``
holds for the exposures whose attribution window has closed by that date: ``users``, ``sum_y``,
``sumsq_y`` (cumulative), plus ``open_window_users`` (assigned, window still open) per variant. The
experiment row gives ``control_variant``, ``planned_split``, ``started_at``, ``ended_at`` (last
assignment) and ``attribution_days``. :meth:`ExperimentLooks.from_frame` builds it from a long frame
with columns ``look_date, variant, metric_name, users, sum_y, sumsq_y[, open_window_users]``.

Values
------
``ship``, ``do not ship``, ``keep running``, ``invalid: SRM``, ``inconclusive`` and
``invalid: <reason>`` for a bad declaration (a metric the data do not have, a variant of the planned
split missing from the assignments, a variant assigned but not planned, a planned split that does
not parse or does not sum to a positive number); a planned variant with rows but no user at the last look
counts as missing from the assignments. An invalid experiment never gets ``ship``.

Rule (per treatment variant; ``as_of`` defaults to the last look: only looks on or before it count)
----------------------------------------------------------------------------------------------------
1. Bad declaration → ``invalid: <reason>``; sample-ratio mismatch of the assigned users (closed +
   open windows at ``as_of``) against the planned split (chi-square ``p < 0.001``) → ``invalid: SRM``.
2. The primary metric's **always-valid** test: the normal-mixture mSPRT
   (:func:`~retail_lift.experiments.msprt_from_estimates`, ``tau`` = the absolute MDE) over the
   daily looks, Holm-adjusted across the treatment variants at each look. The first look where the
   adjusted p-value is below ``alpha`` stops the variant early, for benefit or for harm (the side of
   the confidence sequence). This is the only early stop.
3. **Fixed mode**: the fixed-horizon test (pooled z for proportions, Welch for means) is read once,
   at the first look where both arms reach the planned users per arm, Holm-adjusted across variants
   (variants not at their planned size enter Holm with p = 1, which is conservative). Significant
   beneficial → ship (if the guardrails pass), significant harmful → do not ship, otherwise
   ``inconclusive``. **Sequential mode**: the planned size is the mSPRT's own
   (:func:`~retail_lift.experiments.registry.msprt_sample_size`); reaching it without an early stop
   is ``inconclusive``. Whichever of (2) and (3) comes first decides.
4. **Guardrails** (only a winning primary needs them; intersection-union, so no multiplicity
   correction): non-inferiority at the relative margin ``m``, i.e. ``effect > -m·|control mean|``
   (flipped when lower is better). After an early stop, the always-valid confidence sequence at the
   latest look; in fixed mode, the one-sided fixed test at the planned size. All shown → ship; one
   proven worse than the margin → do not ship; otherwise keep running (or ``inconclusive`` once final).
5. **Final**: once ``as_of`` is on or after the close of the last window
   (``min(ended_at, started_at + max_duration_days) + attribution_days``) every variant gets a final
   decision (never ``keep running``); without a stop, ``inconclusive``.
6. Otherwise ``keep running``, with the date the windows close, the users waiting in open windows and
   the users reached against the planned size.

Baseline: the registry's pre-registered one; without it, the control arm's mean (and s.d.) at the
first look with at least two control users and a non-zero sum (it does not depend on the treatment difference, so the
tests stay valid; but the planned size is then no longer declared before the data).

Ratio metrics and CUPED (the interface-B sums, read by :meth:`ExperimentLooks.from_frame` when present)
------------------------------------------------------------------------------------------------------
A ``ratio`` metric (``sum_y / sum_d`` over the arm) is tested on its delta-method variance; its
baseline and s.d. are the control's ratio and the s.d. of the linearised metric
(:mod:`retail_lift.experiments.ratio`). With covariate sums every test (always-valid, fixed-horizon,
guardrails) uses the CUPED-adjusted effect and variance, θ re-estimated from the pooled arms at each
look. The mSPRT is then always-valid only approximately (θ and the variance are plug-in estimates,
as the variance already was without CUPED); the harness measures the error rates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from .decision import DO_NOT_SHIP, INVALID_SRM, KEEP_RUNNING, SHIP
from .multiple_testing import holm
from .ratio import (
    ALL_SUMS,
    COVARIATE_DENOMINATOR_SUMS,
    COVARIATE_SUMS,
    DENOMINATOR_SUMS,
    ArmMoments,
    arm_moments,
    cuped_delta,
)
from .registry import ExperimentSpec, registry_for
from .sequential import msprt_from_estimates
from .srm import srm_test

__all__ = ["INCONCLUSIVE", "ArmLooks", "ExperimentLooks", "VariantDecision", "decide_experiments",
           "decide_variants", "parse_planned_split"]

INCONCLUSIVE = "inconclusive"


@dataclasses.dataclass(frozen=True)
class ArmLooks:
    """Cumulative closed-window statistics of one variant × metric, one element per look."""

    users: np.ndarray
    sum_y: np.ndarray
    sumsq_y: np.ndarray
    #: optional interface-B sums (one element per look; ``None`` = not given): denominator ``d`` (ratio
    #: metrics), covariate ``x`` and covariate denominator ``e`` (CUPED); see :mod:`.ratio`
    sum_d: np.ndarray | None = None
    sumsq_d: np.ndarray | None = None
    sum_yd: np.ndarray | None = None
    sum_x: np.ndarray | None = None
    sumsq_x: np.ndarray | None = None
    sum_xy: np.ndarray | None = None
    sum_e: np.ndarray | None = None
    sumsq_e: np.ndarray | None = None
    sum_xe: np.ndarray | None = None
    sum_ye: np.ndarray | None = None
    sum_de: np.ndarray | None = None
    sum_dx: np.ndarray | None = None
    metric_type: str | None = None  # 'ratio' needs the d sums; None = as the registry says


@dataclasses.dataclass(frozen=True)
class ExperimentLooks:
    """The daily cumulative sufficient statistics of one experiment (see the module docstring)."""

    experiment_id: str
    control_variant: str
    planned_split: object  # "control:1,b:1" or {variant: weight}
    look_dates: tuple  # increasing datetime.date
    stats: Mapping  # {(variant, metric_name): ArmLooks}
    open_window_users: Mapping = dataclasses.field(default_factory=dict)  # {variant: array per look}
    started_at: dt.date | None = None
    ended_at: dt.date | None = None
    attribution_days: int = 0

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, experiment_id: str, control_variant: str, planned_split,
                   started_at=None, ended_at=None, attribution_days: int = 0) -> ExperimentLooks:
        """Build from a long frame (``look_date, variant, metric_name, users, sum_y, sumsq_y`` and
        optionally ``open_window_users``, ``metric_type`` and the interface-B sums of ``d``, ``x`` and
        ``e``, read when present and not all null). A variant × metric without a row on some look
        keeps its previous cumulative values (0 before its first row)."""
        need = ["look_date", "variant", "metric_name", "users", "sum_y", "sumsq_y"]
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise ValueError(f"experiment {experiment_id!r}: looks frame is missing column(s) {', '.join(missing)}")
        f = frame.copy()
        f["look_date"] = pd.to_datetime(f["look_date"]).dt.date
        dates = tuple(sorted(f["look_date"].unique()))
        if "open_window_users" not in f.columns:
            f["open_window_users"] = 0
        out, open_users = {}, {}
        for (variant, metric), g in f.groupby(["variant", "metric_name"], sort=True):
            if g["look_date"].duplicated().any():
                d = g.loc[g["look_date"].duplicated(), "look_date"].iloc[0]
                raise ValueError(f"experiment {experiment_id!r}: two rows for variant {variant!r}, metric "
                                 f"{metric!r} on look {d}")
            out[(str(variant), str(metric))] = _arm_from_group(g, dates, experiment_id, variant, metric)
            g = g.set_index("look_date").reindex(dates).ffill().fillna(0)
            open_users.setdefault(str(variant), g["open_window_users"].to_numpy(float))
        return cls(experiment_id, str(control_variant), planned_split, dates, out, open_users,
                   _date(started_at), _date(ended_at), int(attribution_days or 0))


@dataclasses.dataclass(frozen=True)
class VariantDecision:
    """The decision for one treatment variant, with a short reason and the evidence behind it."""

    experiment_id: str
    variant: str
    decision: str
    reason: str
    primary_metric: str | None = None
    analysis_mode: str | None = None
    as_of: dt.date | None = None
    is_final: bool = False
    decided_at: dt.date | None = None
    control_users: int = 0
    variant_users: int = 0
    planned_users_per_arm: int | None = None
    p_value: float = float("nan")
    p_value_adjusted: float = float("nan")
    effect: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    open_window_users: int = 0
    windows_close_at: dt.date | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _date(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    return pd.Timestamp(v).date()


def parse_planned_split(split) -> dict[str, float]:
    """``'control:1,b:1'`` or a mapping → ``{variant: weight}``; ``ValueError`` on a non-positive,
    non-numeric or missing weight, a duplicate variant, or weights that do not sum to a positive number."""
    if isinstance(split, Mapping):
        pairs = [(str(k).strip(), v) for k, v in split.items()]
    elif isinstance(split, str):
        pairs = []
        for part in split.split(","):
            if not part.strip():
                continue
            name, _, w = part.partition(":")
            pairs.append((name.strip(), w.strip() or None))
    else:
        raise ValueError(f"planned split must be text like 'control:1,b:1' or a mapping, got {split!r}")
    out: dict[str, float] = {}
    for name, w in pairs:
        try:
            x = float(w)
        except (TypeError, ValueError):
            raise ValueError(f"planned split weight of {name!r} is not a number ({w!r})") from None
        if not math.isfinite(x) or x < 0:
            raise ValueError(f"planned split weight of {name!r} must be a non-negative number, got {w!r}")
        if name in out:
            raise ValueError(f"planned split names {name!r} twice")
        out[name] = x
    if len(out) < 2 or sum(out.values()) <= 0 or any(v <= 0 for v in out.values()):
        raise ValueError(f"planned split must give at least two variants positive weights summing to a positive "
                         f"number, got {split!r}")
    return out


def _arm_from_group(g: pd.DataFrame, dates, experiment_id, variant, metric) -> ArmLooks:
    """One variant × metric's rows → :class:`ArmLooks` (cumulative, forward-filled over the looks)."""
    mtype = None
    if "metric_type" in g.columns and g["metric_type"].notna().any():
        mtype = str(g["metric_type"].dropna().iloc[0]).strip().lower()
    r = g.set_index("look_date").reindex(dates)
    opt = {}
    for col in (*DENOMINATOR_SUMS, *COVARIATE_SUMS, *COVARIATE_DENOMINATOR_SUMS):
        if col in r.columns and r[col].notna().any():
            opt[col] = pd.to_numeric(r[col]).ffill().fillna(0).to_numpy(float)
    if mtype == "ratio" and any(c not in opt for c in DENOMINATOR_SUMS):
        raise ValueError(f"experiment {experiment_id!r}: ratio metric {metric!r} (variant {variant!r}) needs the "
                         f"column(s) {', '.join(DENOMINATOR_SUMS)} in the looks frame")
    if mtype is not None and mtype != "ratio":  # d = e = 1: the d / e sums carry nothing new
        opt = {k: v for k, v in opt.items() if k in COVARIATE_SUMS}
    if any(c not in opt for c in COVARIATE_SUMS):
        opt = {k: v for k, v in opt.items() if k not in COVARIATE_SUMS + COVARIATE_DENOMINATOR_SUMS}
    base = r[["users", "sum_y", "sumsq_y"]].ffill().fillna(0)
    return ArmLooks(base["users"].to_numpy(float), base["sum_y"].to_numpy(float), base["sumsq_y"].to_numpy(float),
                    metric_type=mtype, **opt)


def _is_ratio(a: ArmLooks) -> bool:
    """A ratio metric: declared so, or (type not given) carrying the denominator sums (d = 1 for a mean
    gives the mean's own estimate and variance, so this is safe)."""
    return a.metric_type == "ratio" or (a.metric_type is None and a.sum_d is not None)


def _moments(a: ArmLooks, k: int) -> ArmMoments:
    ratio = _is_ratio(a)
    if ratio and (a.sum_d is None or a.sumsq_d is None or a.sum_yd is None):
        raise ValueError("a ratio metric's ArmLooks needs sum_d, sumsq_d and sum_yd")
    cut = lambda v: None if v is None else v[: k + 1]  # noqa: E731
    return arm_moments(*(cut(getattr(a, f)) for f in ALL_SUMS), ratio=ratio)


def _extended(c: ArmLooks, t: ArmLooks) -> bool:
    """The arms carry a ratio denominator or a covariate: use the delta-method / CUPED estimates."""
    return any(_is_ratio(a) or a.sum_x is not None for a in (c, t))


def _estimates_delta(c: ArmLooks, t: ArmLooks, proportion: bool, k: int):
    r"""Like :func:`_estimates` for ratio metrics (delta method) and with a CUPED covariate.

    CUPED: θ is re-estimated at each look from the pooled within-arm (linearised) moments of both
    arms, and the effect is the difference of the adjusted estimates (:func:`.ratio.cuped_delta`). The
    mSPRT then runs on these estimates and variances. It stays always-valid only approximately: the
    mixture test assumes Gaussian increments with known variance, and θ estimated from the same data
    at each look adds an error of order 1/n to the variance (as the plug-in variance already does);
    the trust harness measures the resulting error rates. Proportions keep a pooled variance (the
    residual variance pooled across arms, as the pooled z test pools the rate); without a usable
    covariate at a look they fall back to the pooled z variance. The third value is the control's
    unadjusted mean (or ratio), the baseline of margins and tau.
    """
    mc_, mt_ = _moments(c, k), _moments(t, k)
    nc, nt = c.users[: k + 1], t.users[: k + 1]
    cu = cuped_delta(mc_, mt_)
    with np.errstate(divide="ignore", invalid="ignore"):
        if cu is None:
            eff, vc, vt = mt_.est - mc_.est, mc_.var, mt_.var
            usable = np.zeros(k + 1, bool)
        else:
            eff, vc, vt, usable = cu.adj_t - cu.adj_c, cu.adj_var_c, cu.adj_var_t, cu.usable
        if proportion:
            sc, st = c.sum_y[: k + 1], t.sum_y[: k + 1]
            pbar = (sc + st) / np.maximum(nc + nt, 1)
            v_pooled_z = pbar * (1 - pbar) * (1 / np.maximum(nc, 1) + 1 / np.maximum(nt, 1))
            resid = ((nc - 1) * vc + (nt - 1) * vt) / np.maximum(nc + nt - 2, 1)
            var = np.where(usable, resid * (1 / np.maximum(nc, 1) + 1 / np.maximum(nt, 1)), v_pooled_z)
            ok = (nc >= 1) & (nt >= 1) & (~usable | ((nc >= 2) & (nt >= 2)))
            mc = np.where(nc > 0, sc / np.maximum(nc, 1), 0.0)
        else:
            var = vc / nc + vt / nt
            ok = (nc >= 2) & (nt >= 2) & np.isfinite(mc_.est) & np.isfinite(mt_.est)
            mc = np.where(np.isfinite(mc_.est), mc_.est, 0.0)
        ok = ok & np.isfinite(eff)
    var = np.where(ok & np.isfinite(var), var, 0.0)
    return np.where(ok, eff, 0.0), var, mc


def _baseline(c: ArmLooks, k: int) -> tuple[float, float]:
    """The control's metric (mean or ratio) and per-user s.d. (of the linearised metric for a ratio) at look k."""
    if _is_ratio(c):
        m = _moments(c, k)
        return float(m.est[k]), math.sqrt(max(float(m.var[k]), 0.0))
    n0 = c.users[k]
    return c.sum_y[k] / n0, math.sqrt(max(c.sumsq_y[k] - c.sum_y[k] ** 2 / n0, 0) / (n0 - 1))


def _estimates(c: ArmLooks, t: ArmLooks, proportion: bool, k: int):
    """Effect and variance at looks 0..k (variance 0 = no information at that look)."""
    if _extended(c, t):
        return _estimates_delta(c, t, proportion, k)
    nc, nt = c.users[: k + 1], t.users[: k + 1]
    sc, st = c.sum_y[: k + 1], t.sum_y[: k + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mc, mt = np.where(nc > 0, sc / np.maximum(nc, 1), 0.0), np.where(nt > 0, st / np.maximum(nt, 1), 0.0)
        if proportion:  # pooled: stable when conversions are few
            pbar = (sc + st) / np.maximum(nc + nt, 1)
            var = pbar * (1 - pbar) * (1 / np.maximum(nc, 1) + 1 / np.maximum(nt, 1))
            ok = (nc >= 1) & (nt >= 1)
        else:
            vc = np.maximum(c.sumsq_y[: k + 1] - sc * sc / np.maximum(nc, 1), 0) / np.maximum(nc - 1, 1)
            vt = np.maximum(t.sumsq_y[: k + 1] - st * st / np.maximum(nt, 1), 0) / np.maximum(nt - 1, 1)
            var = vc / np.maximum(nc, 1) + vt / np.maximum(nt, 1)
            ok = (nc >= 2) & (nt >= 2)
    var = np.where(ok & np.isfinite(var), var, 0.0)
    return np.where(ok, mt - mc, 0.0), var, mc


def _fixed_p(c: ArmLooks, t: ArmLooks, proportion: bool, k: int):
    eff, var, mc = _estimates(c, t, proportion, k)  # pooled variance for proportions: the pooled z test
    if var[k] <= 0:
        return float(eff[k]), float("nan"), float(mc[k]), float(var[k])
    z = eff[k] / math.sqrt(var[k])
    return float(eff[k]), float(2 * stats.norm.sf(abs(z))), float(mc[k]), float(var[k])


def _good(effect: float, higher_is_better: bool) -> bool:
    return effect > 0 if higher_is_better else effect < 0


def _guardrails(data: ExperimentLooks, spec: ExperimentSpec, variant: str, k: int, sequential: bool,
                tau_rel: float) -> tuple[str, str]:
    """('pass' | 'fail' | 'open', text) for the guardrails of ``variant`` at look ``k``."""
    c_name = data.control_variant
    open_, notes = [], []
    for g in spec.guardrails:
        c, t = data.stats[(c_name, g.metric_name)], data.stats[(variant, g.metric_name)]
        eff, var, mc = _estimates(c, t, g.metric_type == "proportion", k)
        bound = g.non_inferiority_margin * abs(mc[k])
        sgn = 1.0 if g.higher_is_better else -1.0
        if var[k] <= 0 or bound <= 0:
            open_.append(f"{g.metric_name} (no data)")
            continue
        if sequential:
            tau = max(tau_rel * abs(mc[k]), 1e-12)
            seq = msprt_from_estimates(sgn * eff, var, tau=tau, alpha=spec.alpha, theta0=-bound)
            lo, hi = float(seq.abs_ci_low[-1]), float(seq.abs_ci_high[-1])
        else:
            half = stats.norm.ppf(1 - spec.alpha) * math.sqrt(var[k])
            lo, hi = sgn * eff[k] - half, sgn * eff[k] + half
        if lo > -bound:
            notes.append(f"{g.metric_name} non-inferior (margin {g.non_inferiority_margin:.0%})")
        elif hi < -bound:
            return "fail", (f"guardrail {g.metric_name} is worse than its {g.non_inferiority_margin:.0%} "
                            f"non-inferiority margin")
        else:
            open_.append(g.metric_name)
    if open_:
        return "open", f"guardrail(s) {', '.join(open_)} not yet shown non-inferior"
    return "pass", "; ".join(notes)


def _invalid_all(base: dict, control: str, reason: str, variants) -> tuple[VariantDecision, ...]:
    """Every variant but the control (or ``(none)``) ``invalid: <reason>``, final."""
    vs = sorted(set(variants) - {control}) or ["(none)"]
    return tuple(VariantDecision(variant=v, decision=f"invalid: {reason}", reason=reason, is_final=True, **base)
                 for v in vs)


def _ever_assigned(data: ExperimentLooks, v: str) -> bool:
    """Any user of ``v``, closed or open window, by the data's last look."""
    last = [a.users[-1] for (w, _), a in data.stats.items() if w == v and len(a.users)]
    opened = np.asarray(data.open_window_users.get(v, [0]), dtype=float)
    return max(last, default=0) + (opened[-1] if opened.size else 0) > 0


def _declaration_problem(data: ExperimentLooks, spec: ExperimentSpec,
                         observed: list[str]) -> tuple[dict[str, float] | None, str | None, set]:
    """Rule 1's declarations: ``(planned split, None, _)``, or ``(None, reason, variants to mark invalid)``."""
    control = data.control_variant
    try:
        split = parse_planned_split(data.planned_split)
    except ValueError as exc:
        return None, f"bad planned split: {exc}", set(observed)
    everyone = set(split) | set(observed)
    if control not in split:
        return None, f"control {control!r} not in the planned split", everyone
    for m in spec.metrics:
        if (control, m.metric_name) not in data.stats:
            return None, f"unknown metric {m.metric_name!r}", everyone
    missing = [v for v in split if v not in observed or not _ever_assigned(data, v)]
    if missing:
        return None, f"variant {missing[0]!r} missing from the assignments", everyone
    extra = [v for v in observed if v not in split]
    if extra:
        return None, f"variant {extra[0]!r} assigned but not in the planned split", everyone
    return split, None, everyone


def _windows_close_at(data: ExperimentLooks, spec: ExperimentSpec):
    """The close of the last attribution window (rule 5), or None without a start or an end date."""
    horizon = None
    if data.started_at is not None:
        horizon = data.started_at + dt.timedelta(days=spec.max_duration_days)
        if data.ended_at is not None:
            horizon = min(horizon, data.ended_at)
    elif data.ended_at is not None:
        horizon = data.ended_at
    return horizon + dt.timedelta(days=data.attribution_days) if horizon else None


def _open_users(data: ExperimentLooks, v: str, n_dates: int) -> np.ndarray:
    return np.asarray(data.open_window_users.get(v, [0] * n_dates))


def _srm_verdicts(data: ExperimentLooks, spec: ExperimentSpec, split: dict[str, float], treatments: list[str],
                  cur: int, n_dates: int, srm_threshold: float, base: dict) -> tuple[VariantDecision, ...] | None:
    """``invalid: SRM`` for every treatment when everyone assigned by look ``cur`` (closed and open windows)
    mismatches the planned split; None otherwise."""
    assigned = np.array([data.stats[(v, spec.primary.metric_name)].users[cur]
                         + float(_open_users(data, v, n_dates)[cur]) for v in split])
    if assigned.sum() > 0:
        srm = srm_test(assigned, np.array(list(split.values())), threshold=srm_threshold)
        if srm.is_srm:
            return tuple(VariantDecision(variant=v, decision=INVALID_SRM, is_final=True,
                                         reason=f"sample-ratio mismatch (p = {srm.p_value:.2g} < {srm_threshold}): "
                                                "assignment is broken; fix it and restart", **base)
                         for v in treatments)
    return None


def _planned_size(c_arm: ArmLooks, cur: int, spec: ExperimentSpec):
    """Planned users per arm and the mSPRT's tau, from the declared baseline or the control's first usable look."""
    first = next((i for i in range(cur + 1) if c_arm.users[i] >= 2 and c_arm.sum_y[i] != 0), None)
    b_obs = sd_obs = None
    if first is not None:
        b_obs, sd_obs = _baseline(c_arm, first)
    baseline = spec.baseline if spec.baseline is not None else b_obs
    return spec.planned_users_per_arm(baseline, sd_obs), spec.tau(baseline)


@dataclasses.dataclass
class _Verdicts:
    """What the per-variant verdict steps of :func:`decide_variants` share (one experiment at ``cur``)."""

    data: ExperimentLooks
    spec: ExperimentSpec
    split: dict[str, float]
    treatments: list[str]
    dates: list
    cur: int
    close_at: dt.date | None
    final: bool
    c_arm: ArmLooks
    prop: bool
    planned: int | None
    base: dict
    per: dict = dataclasses.field(default_factory=dict)
    seq_p: np.ndarray | None = None
    seq_adj: np.ndarray | None = None
    fixed_adj: dict = dataclasses.field(default_factory=dict)

    def waiting(self, k: int) -> int:
        return int(sum(float(_open_users(self.data, v, len(self.dates))[k]) for v in self.split)) if k >= 0 else 0


def _sequential_tests(r: _Verdicts, tau) -> None:
    """Rule 2: the primary metric's mSPRT per treatment, Holm-adjusted across them at each look; and the look
    where both arms reach the planned size."""
    p_metric = r.spec.primary
    m = len(r.treatments)
    r.seq_p = np.ones((m, r.cur + 1))
    for j, v in enumerate(r.treatments):
        t_arm = r.data.stats[(v, p_metric.metric_name)]
        eff, var, _ = _estimates(r.c_arm, t_arm, r.prop, r.cur)
        sgn = 1.0 if p_metric.higher_is_better else -1.0
        seq = msprt_from_estimates(sgn * eff, var, tau=tau, alpha=r.spec.alpha) if tau else None
        if seq is not None:
            r.seq_p[j] = np.atleast_1d(seq.p_value)
        reach = np.flatnonzero(np.minimum(r.c_arm.users[: r.cur + 1], t_arm.users[: r.cur + 1]) >= r.planned) \
            if r.planned else np.array([], int)
        r.per[v] = {"t": t_arm, "seq": seq, "eff": eff, "reach": int(reach[0]) if reach.size else None}
    r.seq_adj = np.vstack([holm(r.seq_p[:, k]) for k in range(r.cur + 1)]).T if m else r.seq_p


def _fixed_tests(r: _Verdicts) -> None:
    """Rule 3, fixed mode: the fixed-horizon p-values at the planned size, Holm-adjusted across variants."""
    if not r.spec.sequential and r.planned:
        ps = []
        for v in r.treatments:
            k = r.per[v]["reach"]
            p = _fixed_p(r.c_arm, r.per[v]["t"], r.prop, k)[1] if k is not None else 1.0
            ps.append(1.0 if math.isnan(p) else p)
        r.fixed_adj = dict(zip(r.treatments, holm(np.array(ps)), strict=True))


def _early_stop(r: _Verdicts, v: str, s: int, p_txt_adj: float, ev: dict) -> tuple[str, str]:
    """Rule 2's early stop at look ``s``: harm, or a win checked against the guardrails (rule 4)."""
    p_metric, seq = r.spec.primary, r.per[v]["seq"]
    lo, hi = float(np.atleast_1d(seq.abs_ci_low)[s]), float(np.atleast_1d(seq.abs_ci_high)[s])
    oriented = float(np.atleast_1d(seq.abs_effect)[s])  # effects oriented so that > 0 is good
    ev["decided_at"] = r.dates[s]
    p_txt = f"always-valid p = {p_txt_adj:.2g} (Holm) on {r.dates[s]}"
    if hi < 0 or (lo <= 0 and oriented < 0):  # the confidence sequence lies on the harmful side
        return DO_NOT_SHIP, f"harm: {p_metric.metric_name} {p_txt}"
    g, gtxt = _guardrails(r.data, r.spec, v, r.cur, True, r.spec.mde_relative)
    return {
        "pass": (SHIP, f"win: {p_metric.metric_name} {p_txt}" + (f"; {gtxt}" if gtxt else "")),
        "fail": (DO_NOT_SHIP, f"{p_metric.metric_name} won ({p_txt}) but {gtxt}"),
        "open": (INCONCLUSIVE if r.final else KEEP_RUNNING, f"{p_metric.metric_name} won ({p_txt}); {gtxt}"),
    }[g]


def _fixed_horizon(r: _Verdicts, v: str, k_star: int, ev: dict) -> tuple[str, str]:
    """Rule 3, fixed mode: the fixed-horizon test read once at the planned size (look ``k_star``)."""
    p_metric = r.spec.primary
    eff, p, _, var = _fixed_p(r.c_arm, r.per[v]["t"], r.prop, k_star)
    pa = float(r.fixed_adj[v])
    ev.update(decided_at=r.dates[k_star], p_value=p, p_value_adjusted=pa, effect=eff,
              ci_low=eff - stats.norm.ppf(1 - r.spec.alpha / 2) * math.sqrt(var),
              ci_high=eff + stats.norm.ppf(1 - r.spec.alpha / 2) * math.sqrt(var))
    p_txt = f"fixed-horizon p = {pa:.2g} (Holm) at the planned size on {r.dates[k_star]}"
    if pa < r.spec.alpha and _good(eff, p_metric.higher_is_better):
        g, gtxt = _guardrails(r.data, r.spec, v, k_star, False, r.spec.mde_relative)
        return {
            "pass": (SHIP, f"win: {p_metric.metric_name} {p_txt}" + (f"; {gtxt}" if gtxt else "")),
            "fail": (DO_NOT_SHIP, f"{p_metric.metric_name} won ({p_txt}) but {gtxt}"),
            "open": (INCONCLUSIVE, f"{p_metric.metric_name} won ({p_txt}) but {gtxt}"),
        }[g]
    if pa < r.spec.alpha:
        return DO_NOT_SHIP, f"harm: {p_metric.metric_name} {p_txt}"
    return INCONCLUSIVE, f"no significant effect on {p_metric.metric_name}: {p_txt}"


def _variant_decision(r: _Verdicts, j: int, v: str) -> VariantDecision:
    """The decision of treatment ``v`` (row ``j`` of the tests): rules 2 to 6, whichever applies first."""
    p_metric, info = r.spec.primary, r.per[v]
    t_arm, seq, k_star, cur, planned = info["t"], info["seq"], info["reach"], r.cur, r.planned
    hits = np.flatnonzero(r.seq_adj[j] < r.spec.alpha)
    s = int(hits[0]) if hits.size else None
    users_c, users_t = int(r.c_arm.users[cur]), int(t_arm.users[cur])
    ev = dict(r.base, variant=v, control_users=users_c, variant_users=users_t, open_window_users=r.waiting(cur))
    size_txt = (f"{min(users_c, users_t):,} of {planned:,} planned users per arm" if planned
                else f"{min(users_c, users_t):,} users per arm (no planned size: no baseline yet)")
    if seq is not None:
        ev.update(p_value=float(r.seq_p[j, -1]), p_value_adjusted=float(r.seq_adj[j, -1]),
                  effect=float(info["eff"][-1]),
                  ci_low=float(np.atleast_1d(seq.abs_ci_low)[-1]),
                  ci_high=float(np.atleast_1d(seq.abs_ci_high)[-1]))
    if s is not None and (k_star is None or s <= k_star):
        decision, reason = _early_stop(r, v, s, r.seq_adj[j, s], ev)
    elif k_star is not None and not r.spec.sequential:
        decision, reason = _fixed_horizon(r, v, k_star, ev)
    elif k_star is not None:
        ev["decided_at"] = r.dates[k_star]
        decision, reason = INCONCLUSIVE, (f"no always-valid effect on {p_metric.metric_name} by the sequential "
                                          f"test's planned size ({planned:,} users per arm) on {r.dates[k_star]}")
    elif r.final:
        decision, reason = INCONCLUSIVE, (f"ended and every window closed ({r.close_at}) without a decision on "
                                          f"{p_metric.metric_name}; {size_txt}")
    else:
        decision = KEEP_RUNNING
        n_wait = r.waiting(cur)
        win = (f"windows open until {r.close_at}" if r.close_at else "no end date declared")
        reason = (f"{win}, data to {r.dates[cur]}; {n_wait:,} users waiting in open windows; {size_txt}"
                  + (f"; always-valid p = {r.seq_adj[j, -1]:.2g}" if seq is not None else ""))
    if decision == INCONCLUSIVE:  # final: what was not shown by now will not be
        reason = reason.replace("not yet shown non-inferior", "not shown non-inferior")
    ev.update(decision=decision, reason=reason, is_final=decision != KEEP_RUNNING)
    return VariantDecision(**ev)


def decide_variants(data: ExperimentLooks, spec: ExperimentSpec, *, as_of=None,
                    srm_threshold: float = 0.001) -> tuple[VariantDecision, ...]:
    """One :class:`VariantDecision` per treatment variant (rule in the module docstring)."""
    control = data.control_variant
    observed = sorted({v for v, _ in data.stats})
    base = {"experiment_id": data.experiment_id, "primary_metric": spec.primary.metric_name,
            "analysis_mode": spec.analysis_mode}

    # 1. declarations
    split, problem, variants = _declaration_problem(data, spec, observed)
    if problem is not None:
        return _invalid_all(base, control, problem, variants)
    treatments = [v for v in split if v != control]

    dates = list(data.look_dates)
    as_of = _date(as_of) or (dates[-1] if dates else None)
    cur = max((i for i, d in enumerate(dates) if d <= as_of), default=-1) if as_of else -1
    close_at = _windows_close_at(data, spec)
    final = close_at is not None and as_of is not None and as_of >= close_at
    base.update(as_of=as_of, windows_close_at=close_at)

    if cur < 0:
        why = f"no look on or before {as_of}" if as_of else "no data"
        return tuple(VariantDecision(variant=v, decision=INCONCLUSIVE if final else KEEP_RUNNING,
                                     reason=why, is_final=final, **base) for v in treatments)

    # SRM on everyone assigned by as_of (closed and open windows)
    srm = _srm_verdicts(data, spec, split, treatments, cur, len(dates), srm_threshold, base)
    if srm is not None:
        return srm

    # baseline, tau and planned size
    c_arm = data.stats[(control, spec.primary.metric_name)]
    planned, tau = _planned_size(c_arm, cur, spec)
    base["planned_users_per_arm"] = planned

    r = _Verdicts(data=data, spec=spec, split=split, treatments=treatments, dates=dates, cur=cur, close_at=close_at,
                  final=final, c_arm=c_arm, prop=spec.primary.metric_type == "proportion", planned=planned,
                  base=base)
    _sequential_tests(r, tau)
    _fixed_tests(r)
    return tuple(_variant_decision(r, j, v) for j, v in enumerate(treatments))


def decide_experiments(looks: pd.DataFrame, experiments: pd.DataFrame,
                       registry: Mapping[str, ExperimentSpec] | None = None, *, as_of=None) -> pd.DataFrame:
    """One row per experiment × treatment variant for every experiment of ``experiments`` (the raw table:
    ``experiment_id, control_variant, planned_split, started_at, ended_at, attribution_days``).

    ``looks`` is the long daily frame of :meth:`ExperimentLooks.from_frame` with an ``experiment_id``
    column; ``registry`` the declared specs (experiments declared nowhere get the defaults). Columns:
    the fields of :class:`VariantDecision`.
    """
    specs = registry_for(experiments["experiment_id"].astype(str), registry)
    rows = []
    for e in experiments.to_dict("records"):
        exp_id = str(e["experiment_id"])
        data = ExperimentLooks.from_frame(looks[looks["experiment_id"].astype(str) == exp_id],
                                          experiment_id=exp_id, control_variant=e["control_variant"],
                                          planned_split=e["planned_split"], started_at=e.get("started_at"),
                                          ended_at=e.get("ended_at"), attribution_days=e.get("attribution_days") or 0)
        rows += [d.to_dict() for d in decide_variants(data, specs[exp_id], as_of=as_of)]
    cols = [f.name for f in dataclasses.fields(VariantDecision)]
    return pd.DataFrame(rows, columns=cols)
