"""Decisions logged through the API's decision path (the declared fallback served, with the default
exploration floor) let the project's own off-policy evaluation recover the true value of a different
policy, on the simulated world whose true conversion probabilities are known.

The decisions go through :class:`~retail_lift.api.app.Decider` (what ``POST /decide`` runs) and the
API's decision log (group commit), not through HTTP: 30,000 decisions over HTTP would take a
minute; the HTTP layer is tested in test_api.py. With 30,000 decisions the doubly-robust estimate of
the target (context-free Thompson sampling, true value about 11 % above the served fallback's) was
within 3.2 % of the truth on seeds 1-4 (measured; the bound checked here is the issue's 10 %)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd
import pytest

from retail_lift.api.app import create_app
from retail_lift.api.log import read_decision_log, utc_now
from retail_lift.bandit.pipeline import evaluate_policies, true_policy_value
from retail_lift.bandit.publish import load_published_policy


@pytest.mark.slow
def test_ope_on_api_logged_decisions_recovers_the_true_value_of_another_policy(api_world, kept_warehouse, tmp_path):
    world = api_world["sim"].world
    rng = np.random.default_rng(1)
    days = 10  # the world's last days: every arm launched
    cust, t, _ = world.draw_decisions(rng, world.check_period(days), days, 3000)
    contexts = world.context_json(cust, t)
    app = create_app(kept_warehouse, tmp_path / "log", seed=1)
    decider, log = app.state.decider, app.state.decision_log
    assert decider.policy.served_as == "fallback" and decider.floor == 0.01
    arms = decider.policy.arms
    truth = world.true_p(cust, t)[:, [list(world.arm_names).index(a) for a in arms]]
    now = utc_now()
    decided = [decider.decide(str(c), json.loads(x), now=now) for c, x in zip(world.customer_ids(cust), contexts,
                                                                               strict=True)]

    async def commit_all():
        await asyncio.gather(*(log.commit(record, now) for record, _ in decided))

    asyncio.run(commit_all())
    # rewards drawn from the truth for the arm each decision chose
    reward = {a["decision_id"]: int(rng.random() < truth[i, arms.index(a["arm"])])
              for i, (_, a) in enumerate(decided)}
    rows, skipped = read_decision_log(tmp_path / "log")
    assert skipped == 0 and len(rows) == len(cust)
    ledger = pd.DataFrame(rows)
    ledger["is_converted"] = ledger["decision_id"].map(reward)
    ledger["is_pending"] = False
    logged = np.array([[json.loads(r["action_probabilities"])[a] for a in arms] for r in rows])
    assert logged.min() >= 0.01 - 1e-12  # the floor: every arm loggable
    # the target: the context-free Thompson candidate of the same build, which the gate did not serve
    target = load_published_policy(kept_warehouse, "thompson")
    table = evaluate_policies(ledger, {"thompson": target.policy}, target.encoder, n_bootstrap=20, arm_names=arms)
    estimate = table.set_index(["policy", "estimator"]).loc[("thompson", "dr"), "value"]
    true_value = true_policy_value(target.action_probabilities(list(contexts)), truth)
    served_value = true_policy_value(np.array([[a["probabilities"][k] for k in arms] for _, a in decided]), truth)
    assert true_value > 1.05 * served_value  # a different policy, with a different value
    assert abs(estimate - true_value) <= 0.10 * true_value, (estimate, true_value)
