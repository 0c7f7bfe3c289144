"""``retail-lift simulate``: the promotion policies in a closed loop against the simulated world's truth.

Register it on the main group (``main.add_command(simulate_command)``), or together with
``retail-lift decide`` (:mod:`retail_lift.bandit.cli`) under one group with ``main.add_command(bandit_group)``
(``retail-lift bandit simulate|decide``). It was ``retail_lift.bandit.cli`` before issue 22: it reads the
world, so it belongs to the evaluation layer, not to the bandit family.

``simulate`` runs the closed loop of :func:`retail_lift.evaluation.bandit_simulation.simulate_closed_loop` on a
world rebuilt in memory from its preset and seed (the same customers as ``retail-lift generate``),
writes ``summary.csv``, ``daily.csv``, ``arm_mix.csv``, ``simulation.json`` and the charts of
:func:`~retail_lift.evaluation.bandit_simulation.plot_simulation` to ``--out``, and prints per policy the
cumulative conversions, regret and lift against the control group and the best single arm. With
several ``--seed`` (default 0, 1, 2) it runs once per seed (same world, other traffic, rewards and
policy streams): the tables and charts are the first seed's, ``summary_by_seed.csv`` holds every
seed's summary and the printout ends with the spread across seeds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from retail_lift._click import fail as _fail
from retail_lift.bandit.cli import decide_command
from retail_lift.world.presets import PRESETS

POLICY_CHOICES = ("thompson_segment", "linucb", "lints", "logistic_ts", "epsilon_greedy", "thompson",
                  "best_single_arm", "random")


@click.command("simulate")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="default", show_default=True,
              help="World to simulate against, rebuilt in memory (tiny ~1k customers, default ~50k).")
@click.option("--world-seed", type=int, default=42, show_default=True, help="Seed of the world (as in generate).")
@click.option("--days", type=click.IntRange(min=2), default=90, show_default=True,
              help="Simulated days (the last DAYS days of the world).")
@click.option("--decisions-per-day", type=click.IntRange(min=10), default=2000, show_default=True,
              help="Customers decided for per day (control group included).")
@click.option("--policy", "policies", multiple=True, type=click.Choice(POLICY_CHOICES),
              help="A policy to run (repeatable); default: thompson_segment, linucb, lints, logistic_ts, "
                   "best_single_arm, random.")
@click.option("--control-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share of each day's customers held out as a uniformly random control group.")
@click.option("--feedback", type=click.Choice(["delay_corrected", "window", "conversion"]), default="delay_corrected",
              show_default=True,
              help="When rewards are learned from: delay_corrected = settled windows plus the open windows weighted "
                   "by the share of conversions already observable; window = only when the attribution window "
                   "closes; conversion = a conversion when its order lands, a non-conversion when the window closes.")
@click.option("--warm-start-days", type=click.IntRange(min=0), default=28, show_default=True,
              help="Days of history logged by the world's logging policy before day 0, learned from before going "
                   "online (0: start from the priors).")
@click.option("--new-arm", default="free_shipping", show_default=True,
              help="Arm launched mid-run (cold start); 'none' launches nothing.")
@click.option("--new-arm-day", type=int, default=None, help="Day the new arm launches (default: DAYS // 2).")
@click.option("--seed", "seeds", type=int, multiple=True, default=(0, 1, 2), show_default=True,
              help="Seed of the traffic, rewards and policies (repeatable: one run per seed).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/bandit"),
              show_default=True, help="Folder for the CSV tables, simulation.json and the PNG charts.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG charts.")
def simulate_command(preset, world_seed, days, decisions_per_day, policies, control_share, feedback, warm_start_days,  # noqa: PLR0913 - one argument per command-line option
                     new_arm, new_arm_day, seeds, out_dir, no_plots):
    """Run promotion policies in a closed loop against the simulated world's true response."""
    import pandas as pd

    from retail_lift.evaluation.bandit_simulation import (
        DEFAULT_POLICIES,
        SimulationWorld,
        plot_simulation,
        simulate_closed_loop,
    )

    started = time.perf_counter()
    seeds = list(dict.fromkeys(seeds))
    results = []
    try:
        world = SimulationWorld(preset, seed=world_seed)
        for seed in seeds:
            results.append(simulate_closed_loop(
                world, days=days, decisions_per_day=decisions_per_day,
                policies=list(policies) or list(DEFAULT_POLICIES), control_share=control_share, seed=seed,
                new_arm=None if new_arm.lower() == "none" else new_arm, new_arm_day=new_arm_day, feedback=feedback,
                warm_start_days=warm_start_days))
    except ValueError as e:
        _fail(str(e))
    result = results[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    by_seed = pd.concat([r.summary.assign(seed=s, best_arm=r.best_arm) for s, r in zip(seeds, results, strict=True)],
                        ignore_index=True)
    by_seed.to_csv(out_dir / "summary_by_seed.csv", index=False)
    result.summary.to_csv(out_dir / "summary.csv", index=False)
    result.daily.to_csv(out_dir / "daily.csv", index=False)
    result.arm_mix.to_csv(out_dir / "arm_mix.csv", index=False)
    config = {k: v for k, v in result.config.items() if k != "encoder"}
    config.update(best_arm=result.best_arm, preset=preset, world_seed=world_seed, seeds=seeds)
    (out_dir / "simulation.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    charts = [] if no_plots else plot_simulation(result, out_dir)
    elapsed = time.perf_counter() - started
    click.echo(format_summary(result, preset, elapsed))
    if len(seeds) > 1:
        click.echo("")
        click.echo(format_seed_spread(by_seed))
    click.echo(f"wrote summary.csv, summary_by_seed.csv, daily.csv, arm_mix.csv, simulation.json"
               f"{', ' + ', '.join(p.name for p in charts) if charts else ''} to {out_dir}")


def format_summary(result, preset: str, elapsed: float) -> str:
    """The printed report of ``simulate``: one line per policy (the control group last)."""
    s = result.summary
    cfg = result.config
    launch = (f"{result.new_arm} launches on day {result.new_arm_day}" if result.new_arm is not None
              else "no arm launched mid-run")
    lines = [
        f"closed loop on {preset}: {cfg['days']} days x {cfg['decisions_per_day']:,} customers/day "
        f"({cfg['n_decisions']:,} decisions, {cfg['control_share']:.0%} control group), feedback={cfg['feedback']}, "
        f"{launch}; warm start: {cfg.get('n_warm_start_decisions', 0):,} logged decisions over "
        f"{cfg.get('warm_start_days', 0)} days; best single arm in hindsight: {result.best_arm}  "
        f"[seed {cfg['seed']}, {elapsed:.1f} s in all]",
        "",
        f"{'policy':<18}{'decisions':>10}{'conversions':>12}{'exp. rate':>10}{'oracle':>8}{'cum. regret':>12}"
        f"{'regret by third':>22}{'exponent':>9}{'lift vs ctl':>12}{'vs best arm':>12}{'2nd half vs best':>17}",
    ]
    for _, r in s.iterrows():
        thirds = f"{r['regret_1st_third']:.0f}/{r['regret_2nd_third']:.0f}/{r['regret_3rd_third']:.0f}"
        lines.append(
            f"{r['policy']:<18}{int(r['decisions']):>10,}{int(r['conversions']):>12,}{r['expected_reward']:>10.4f}"
            f"{r['oracle_reward']:>8.4f}{r['cum_regret']:>12.1f}{thirds:>22}{r['regret_growth_exponent']:>9.2f}"
            f"{r['lift_vs_control']:>+12.1%}{r['lift_vs_best_arm']:>+12.1%}{r['lift_vs_best_arm_2nd_half']:>+17.1%}")
    lines += ["", "conversions are realised; exp. rate, regret and lifts are exact expectations under the true "
                  "response (regret against the per-decision best available arm; the control group's regret is "
                  "over its own, smaller traffic). exponent: slope b of log cumulative regret on log days "
                  "(regret ~ T^b; 1 = linear growth, < 1 = sublinear)."]
    return "\n".join(lines)


def format_seed_spread(by_seed) -> str:
    """Per policy, the range over seeds of the whole-run lifts and the regret growth exponent."""
    g = by_seed.groupby("policy", sort=False)
    seeds = sorted(by_seed["seed"].unique().tolist())
    lines = [f"spread over seeds {seeds} (min .. max over the whole run)", "",
             f"{'policy':<18}{'conversions':>18}{'lift vs ctl':>20}{'lift vs best arm':>20}{'exponent':>14}"]

    def span(r, col, fmt):
        return f"{format(r[col].min(), fmt)} .. {format(r[col].max(), fmt)}"

    for name, r in g:
        lines.append(f"{name:<18}{span(r, 'conversions', ',.0f'):>18}{span(r, 'lift_vs_control', '+.1%'):>20}"
                     f"{span(r, 'lift_vs_best_arm', '+.1%'):>20}{span(r, 'regret_growth_exponent', '.2f'):>14}")
    return "\n".join(lines)


@click.group("bandit")
def bandit_group():
    """Promotion policies: closed-loop simulation and single decisions."""


bandit_group.add_command(simulate_command)
bandit_group.add_command(decide_command)


@click.command("check-truth")
@click.option("--truth", "truth_dir", type=click.Path(path_type=Path), envvar="RETAIL_LIFT_TRUTH",
              default=Path("warehouse/truth"), show_default=True,
              help="Folder of the landed truth tables (RETAIL_LIFT_TRUTH).")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True,
              help="The built warehouse (RETAIL_LIFT_WAREHOUSE).")
def check_truth_command(truth_dir, warehouse):
    """Stop unless `make evaluate` can run: a built warehouse and a non-empty simulated truth."""
    from retail_lift.evaluation.truth import check_can_evaluate

    try:
        counts = check_can_evaluate(truth_dir, warehouse)
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"{truth_dir}: " + ", ".join(f"{name} {n:,} rows" for name, n in counts.items()))
