"""Out-of-fold uplift of causalml's learners on the folds of the project's uplift model (runs in the peer venv).

This script runs inside the venv that ``bench/uplift_peers.py`` makes from ``bench/peers/requirements.txt``
(causalml pulls the GPU ``xgboost`` build and pins that conflict with the project's dbt pins, so it does not
share the project's environment). It imports neither ``retail_lift`` nor dbt: data comes in and goes out as
Parquet.

Input folder (written by ``bench/uplift_peers.py``):

* ``manifest.json``: ``{"arms": [{"experiment_id", "promotion_id", "file"}], "features": [...],
  "peers": [...], "hgb": {...}, "urf": {...}, "random_state": 0}``;
* one Parquet file per arm: ``exposure_id``, ``fold`` (the project's cross-fitting fold, 0..K-1),
  ``treatment`` (1 = the arm, 0 = its control), ``outcome`` (0/1) and the feature columns of
  ``manifest["features"]`` (the project's model matrix, :func:`retail_lift.uplift.features.build_features`).

For every arm, peer and fold the peer is fitted on the other folds and predicts the uplift (treated minus
control conversion probability) of the fold's rows. Output folder: one Parquet per arm (same file name) with
``exposure_id``, ``fold`` and one column per peer, and ``timings.json`` (seconds per arm and peer, fit and
predict over all folds).

Peers (causalml 0.18.0):

* ``x_learner``: ``BaseXClassifier`` (outcome: boosting classifier, effect: boosting regressor);
* ``r_learner``: ``BaseRClassifier`` (outcome: boosting classifier, effect: boosting regressor);
* ``dr_learner``: ``BaseDRClassifier`` (outcomes: boosting classifiers, effect: boosting regressor on the
  doubly robust pseudo-outcomes, 3-way cross-fitting inside);
* ``uplift_random_forest``: ``UpliftRandomForestClassifier`` (KL divergence splits, ``manifest["urf"]``).

The boosting models are scikit-learn ``HistGradientBoostingClassifier`` / ``Regressor`` with the settings
in ``manifest["hgb"]`` (the driver passes the project's own boosting settings, so both sides use the same
base model). The propensity of the meta-learners is the treated share of the training folds (a randomised
experiment: the assignment probability is known, no propensity model is fitted).

    bench/peers/.venv/bin/python bench/peers/run_peers.py --in /tmp/x/peer_in --out /tmp/x/peer_out
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PEERS = ("x_learner", "r_learner", "dr_learner", "uplift_random_forest")


def _hgb(kind: str, hgb: dict, random_state: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if kind == "classifier" else HistGradientBoostingRegressor
    return cls(random_state=random_state, **hgb)


def fit_predict(peer: str, X_train: np.ndarray, t_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                *, hgb: dict, urf: dict, random_state: int) -> np.ndarray:
    """One peer fitted on the training rows, its predicted uplift of the test rows (1-d)."""
    share = float(t_train.mean())
    p_train = np.full(len(t_train), share)
    p_test = np.full(len(X_test), share)
    if peer == "x_learner":
        from causalml.inference.meta import BaseXClassifier

        model = BaseXClassifier(outcome_learner=_hgb("classifier", hgb, random_state),
                                effect_learner=_hgb("regressor", hgb, random_state), control_name=0)
        model.fit(X_train, treatment=t_train, y=y_train, p=p_train)
        return np.asarray(model.predict(X_test, p=p_test, verbose=False)).reshape(len(X_test), -1)[:, 0]
    if peer == "r_learner":
        from causalml.inference.meta import BaseRClassifier

        model = BaseRClassifier(outcome_learner=_hgb("classifier", hgb, random_state),
                                effect_learner=_hgb("regressor", hgb, random_state), control_name=0,
                                random_state=random_state)
        model.fit(X_train, treatment=t_train, y=y_train, p=p_train, verbose=False)
        return np.asarray(model.predict(X_test, p=p_test)).reshape(len(X_test), -1)[:, 0]
    if peer == "dr_learner":
        from causalml.inference.meta import BaseDRClassifier

        model = BaseDRClassifier(control_outcome_learner=_hgb("classifier", hgb, random_state),
                                 treatment_outcome_learner=_hgb("classifier", hgb, random_state),
                                 treatment_effect_learner=_hgb("regressor", hgb, random_state), control_name=0)
        model.fit(X_train, treatment=t_train, y=y_train, p=p_train, seed=random_state)
        return np.asarray(model.predict(X_test, p=p_test, verbose=False)).reshape(len(X_test), -1)[:, 0]
    if peer == "uplift_random_forest":
        from causalml.inference.tree import UpliftRandomForestClassifier

        model = UpliftRandomForestClassifier(control_name="control", random_state=random_state, **urf)
        labels = np.where(t_train == 1, "treatment", "control")
        model.fit(X_train, treatment=labels, y=y_train.astype(int))
        return np.asarray(model.predict(X_test)).reshape(len(X_test), -1)[:, 0]
    raise ValueError(f"unknown peer {peer!r}; choose among {list(PEERS)}")


def out_of_fold(frame: pd.DataFrame, features: list[str], peers: list[str], *, hgb: dict, urf: dict,
                random_state: int, on_peer=None) -> tuple[pd.DataFrame, dict]:
    """Every peer's out-of-fold uplift of ``frame`` (one arm), and seconds per peer.

    ``on_peer(out, seconds)`` is called after each peer with the columns so far (the script writes the arm's
    file then, so that a run stopped part way keeps the peers it finished).
    """
    missing = [c for c in ["exposure_id", "fold", "treatment", "outcome", *features] if c not in frame.columns]
    if missing:
        raise ValueError(f"arm file lacks columns {missing}")
    X = frame[features].to_numpy(float)
    t = frame["treatment"].to_numpy(int)
    y = frame["outcome"].to_numpy(int)
    fold = frame["fold"].to_numpy(int)
    out = pd.DataFrame({"exposure_id": frame["exposure_id"].astype(str), "fold": fold})
    seconds = {}
    for peer in peers:
        start = time.perf_counter()
        pred = np.full(len(frame), np.nan)
        for f in np.unique(fold):
            test = fold == f
            pred[test] = fit_predict(peer, X[~test], t[~test], y[~test], X[test], hgb=hgb, urf=urf,
                                     random_state=random_state)
        out[peer] = pred
        seconds[peer] = round(time.perf_counter() - start, 2)
        if on_peer is not None:
            on_peer(out, seconds)
    return out, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--in", dest="inp", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--peers", nargs="+", help="these peers in this order (default: the manifest's)")
    args = parser.parse_args(argv)
    manifest = json.loads((args.inp / "manifest.json").read_text())
    peers = list(args.peers or manifest.get("peers", PEERS))
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise ValueError(f"manifest.json: unknown peers {unknown}; choose among {list(PEERS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    timings = {"causalml": version("causalml"), "arms": {}}
    for arm in manifest["arms"]:
        frame = pd.read_parquet(args.inp / arm["file"])

        def save(pred, seconds, name=arm["file"]):
            # after every peer: a run stopped part way leaves the peers and arms it finished usable
            pred.to_parquet(args.out / name, index=False)
            timings["arms"][name] = dict(seconds)
            (args.out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")

        pred, seconds = out_of_fold(frame, manifest["features"], peers, hgb=manifest["hgb"], urf=manifest["urf"],
                                    random_state=int(manifest.get("random_state", 0)), on_peer=save)
        print(f"{arm['experiment_id']} / {arm['promotion_id']}: {len(frame):,} rows, seconds {seconds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
