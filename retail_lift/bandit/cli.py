"""``retail-lift decide``: a published promotion policy from the command line.

Register it on the main group (``main.add_command(decide_command)``). ``decide`` loads a published policy
version from the warehouse (:func:`retail_lift.bandit.publish.load_published_policy`) and scores one
context given as JSON; it prints the decision as JSON. Errors (no warehouse, no servable version, bad
JSON) end with exit code 2 and one message.

``retail-lift simulate`` (the closed loop against the simulated world's truth) is an evaluation: it lives
in :mod:`retail_lift.evaluation.cli` (the bandit family does not import the world, ``make lint``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from retail_lift._click import fail as _fail


@click.command("decide")
@click.argument("context_json")
@click.option("--warehouse", "warehouse_path", envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True, type=click.Path(path_type=Path),
              help="The DuckDB warehouse file (RETAIL_LIFT_WAREHOUSE); opened read-only, briefly.")
@click.option("--policy-id", default=None,
              help="Score with this policy version (shadow scoring); default: the active version, or the "
                   "declared fallback when the logging policy is active.")
@click.option("--version", "policy_version", default=None, help="A specific version label (e.g. v20260706).")
@click.option("--seed", type=int, default=None, help="Seed of the draw (default: the policy's own stream).")
def decide_command(context_json, warehouse_path, policy_id, policy_version, seed):
    """Choose a promotion for one customer context given as JSON, e.g.
    '{"age_band":"25-34","device":"mobile","acquisition_channel":"facebook","follows_page":1,
    "heard_of_shop":0,"orders_90d":2,"days_since_last_order":12.5,"views_30d":7,"hour":19}'."""
    import duckdb

    from retail_lift.bandit.publish import NoServablePolicyError, load_published_policy

    try:
        context = json.loads(context_json)
    except ValueError as e:
        _fail(f"CONTEXT_JSON is not valid JSON ({e})")
    if not isinstance(context, dict):
        _fail("CONTEXT_JSON must be a JSON object of context fields")
    try:
        policy = load_published_policy(warehouse_path, policy_id, version=policy_version)
    except NoServablePolicyError as e:
        _fail(f"{e} (on the command line: --policy-id NAME)")
    except (LookupError, FileNotFoundError) as e:
        _fail(str(e))
    except duckdb.Error as e:
        _fail(f"cannot read the published policies from {warehouse_path}: {e}")
    click.echo(json.dumps(policy.decide(context, rng=seed)))
