"""The paired gate on real logged data: Open Bandit Dataset small sample shipped in the `obp` wheel (ZOZOTOWN,
80 items x 3 positions). Holdout = the uniform-random log; champion = the random policy (p = 1/80);
candidate = Bernoulli TS as actually run (its item shares per position in the BTS log: BTS is context-free).
The realised difference = on-policy CTR of the BTS log minus that of the random log.

The data ships inside the `obp` 0.4.1 wheel (its own dependencies are not needed; it does not install on
Python 3.11, so fetch the file alone and unpack it):

    pip download --no-deps obp==0.4.1 --python-version 3.8 --only-binary=:all: -d /tmp/obp
    unzip -q /tmp/obp/obp-0.4.1-py3-none-any.whl -d /tmp/obp/x
    .venv/bin/python bench/gate_open_bandit.py /tmp/obp/x/obp/dataset/obd
"""
import sys

import numpy as np
import pandas as pd

from retail_lift.bandit.gate import run_gate
from retail_lift.bandit.ope import fit_reward_model

COLUMNS = ["policy", "dr_value", "dr_diff", "diff_ci_low", "diff_ci_high", "snips_diff", "p_value", "ess",
           "unsupported_share", "verdict"]


def main(base: str) -> None:
    rnd = pd.read_csv(f"{base}/random/all/all.csv")
    bts = pd.read_csv(f"{base}/bts/all/all.csv")
    k = 80
    a = rnd["item_id"].to_numpy()
    pos = rnd["position"].to_numpy()
    r = rnd["click"].to_numpy(float)
    p = rnd["propensity_score"].to_numpy(float)
    shares = np.zeros((4, k))
    for ps, g in bts.groupby("position"):
        shares[ps] = np.bincount(g["item_id"], minlength=k) / len(g)
    p_bts = shares[pos]
    p_rnd = np.full((len(r), k), 1.0 / k)
    q = fit_reward_model(np.eye(4)[pos][:, 1:], a, r, n_arms=k, model="logistic", n_folds=5).cross_fitted_
    policies = {"random": p_rnd, "bts": p_bts, "bts_uniform_mix": 0.5 * p_bts + 0.5 * p_rnd}
    gate = run_gate(r, a, p, q, policies, "random", pos)
    pd.set_option("display.width", 250)
    print(gate[COLUMNS].to_string())
    diff = bts["click"].mean() - r.mean()
    print(f"realised on-policy CTR: random {r.mean():.5f} (n={len(r)}), bts {bts['click'].mean():.5f} "
          f"(n={len(bts)}), difference {diff:+.5f}; for the 50/50 mix {0.5 * diff:+.5f}")


if __name__ == "__main__":
    main(sys.argv[1])
