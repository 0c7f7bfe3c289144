"""How much of the oracle Qini can any uplift model reach from the warehouse's features? (simulated worlds)

The uplift target of issue 6 compares the model's out-of-fold Qini with the oracle Qini of the true
effects. The oracle ranks by each exposure's true uplift, which in the simulated world also depends on
things no feature shows (the random draw of the customer's uplift type, latent engagement). This
script measures that ceiling: for every evaluated arm it regresses the **true** uplift (noise free,
something no real model has) on the same features the uplift pipeline uses
(:func:`retail_lift.uplift.pipeline.build_features`), out of fold (5 folds), and reports the Qini of
that ranking against the oracle, next to the model's own ratio from ``evaluation.ml_eval_uplift_vs_truth``:

* ``ceiling_boosting``: gradient-boosted regression of the true uplift (any shape the features allow);
* ``ceiling_linear``: ridge regression of the true uplift (the best a linear effect model can rank).

A ceiling below the target means no model on these features can meet it on this world, whatever the
amount of data. Each ratio is given on the realised outcomes (``*_qini_ratio``, as the target) and on
the true uplift (``*_gain_ratio``, free of outcome noise).

The other limit is the data. ``type_revealed`` refits the pipeline's own learner
(:func:`retail_lift.uplift.pipeline.fit_score_uplift`, the settings of ``ml_uplift_run``: ``learner="auto"``,
logistic outcome models, 5 folds, seed 0) on the same exposures with the customer's hidden uplift type
(``truth_customers.uplift_type``, one-hot) appended through ``extra_features``, and evaluates its
out-of-fold predictions as ``ml_eval_uplift_vs_truth`` does: what the learner makes of this many noisy
outcomes when a feature reveals who is persuadable. Below the target, more or better features alone
cannot meet it either: the experiment is too small for its effects.

    .venv/bin/python bench/uplift_ceiling.py --warehouse warehouse/retail_lift.duckdb \\
        --truth warehouse/truth --out bench/results/uplift_ceiling_default.json

The warehouse is opened read-only and closed before the fits (it does not block a running build).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.uplift.metrics import qini_auc_from_true_uplift, qini_auc_score
from retail_lift.uplift.pipeline import (
    _gain_ratio,
    build_features,
    evaluate_uplift_against_truth,
    fit_score_uplift,
)

CEILINGS = ("boosting", "linear")


def _regressor(kind: str, random_state: int):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "boosting":
        return HistGradientBoostingRegressor(max_iter=300, random_state=random_state)
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))


def ceiling_table(training: pd.DataFrame, true_effects: pd.DataFrame, arms: pd.DataFrame, *,
                  n_folds: int = 5, random_state: int = 0) -> pd.DataFrame:
    """One row per arm: the model's ratio and the ceilings of rankings learned from the true uplift.

    Args:
        training: ``fct_uplift_training_exposures`` rows (keys, ``variant``, ``is_control``,
            ``is_converted`` and the feature columns).
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift`` (``truth_exposures``).
        arms: ``experiment_id``, ``promotion_id``, ``qini_oracle_ratio`` (the rows of
            ``ml_eval_uplift_vs_truth``).
    """
    from sklearn.model_selection import KFold, cross_val_predict

    training = training[training["is_converted"].notna()].sort_values("exposure_id", kind="mergesort")
    training = training.reset_index(drop=True)
    X = build_features(training, training.head(1))[0].to_numpy()
    effects = true_effects.set_index(["exposure_id", "promotion_id"])["true_uplift"]
    rows = []
    for arm in arms.sort_values(["experiment_id", "promotion_id"]).itertuples(index=False):
        in_exp = training["experiment_id"].astype(str) == str(arm.experiment_id)
        control = training["is_control"].astype(bool)
        r = np.flatnonzero(in_exp & (control | (training["variant"].astype(str) == str(arm.promotion_id))))
        if r.size < 2 * n_folds:
            continue
        y = training["is_converted"].to_numpy()[r].astype(float)
        t = (~control.to_numpy()[r]).astype(int)
        key = pd.MultiIndex.from_arrays([training["exposure_id"].to_numpy()[r], np.full(r.size, arm.promotion_id)])
        tau = effects.reindex(key).to_numpy(float)
        if np.isnan(tau).any():
            raise ValueError(f"true_effects has no true_uplift for {int(np.isnan(tau).sum())} exposures of "
                             f"{arm.experiment_id} / {arm.promotion_id}")
        oracle = float(qini_auc_from_true_uplift(y, tau, t))
        row = {"experiment_id": arm.experiment_id, "promotion_id": arm.promotion_id,
               "n_exposures": int(r.size), "n_treated": int(t.sum()), "oracle_qini": oracle,
               "model_qini_ratio": float(arm.qini_oracle_ratio), "true_uplift_sd": float(tau.std())}
        folds = KFold(n_folds, shuffle=True, random_state=random_state)
        for kind in CEILINGS:
            pred = cross_val_predict(_regressor(kind, random_state), X[r], tau, cv=folds)
            row[f"ceiling_{kind}_qini_ratio"] = float(qini_auc_score(y, pred, t) / oracle) if oracle > 0 else None
            row[f"ceiling_{kind}_gain_ratio"] = _gain_ratio(pred, tau)
            row[f"ceiling_{kind}_r2"] = float(1 - np.mean((tau - pred) ** 2) / tau.var()) if tau.var() > 0 else None
        rows.append(row)
    return pd.DataFrame(rows)


def type_revealed_table(training: pd.DataFrame, truth_customers: pd.DataFrame, true_effects: pd.DataFrame, *,
                        srm: pd.DataFrame | None = None, promotions: pd.DataFrame | None = None,
                        base_learner: str = "logistic", n_folds: int = 5, random_state: int = 0) -> pd.DataFrame:
    """One row per evaluated arm: the pipeline's learner with the hidden uplift type as extra features.

    Args:
        training: ``fct_uplift_training_exposures`` rows.
        truth_customers: ``customer_id``, ``uplift_type`` (``truth_customers``).
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift`` (``truth_exposures``).
        srm, promotions: as ``ml_uplift_run`` passes them (``fct_experiment_srm``, ``stg_shop__promotions``).

    Returns:
        ``experiment_id``, ``promotion_id``, ``learner``, ``type_revealed_qini_ratio`` and
        ``type_revealed_gain_ratio`` (as ``qini_oracle_ratio`` / ``true_gain_ratio`` of
        :func:`retail_lift.uplift.pipeline.evaluate_uplift_against_truth`).
    """
    types = truth_customers.drop_duplicates("customer_id").set_index("customer_id")["uplift_type"].astype(str)
    columns = {f"true_type_{t}": t for t in sorted(types.unique())}
    customer = training["customer_id"].astype(str)
    missing = customer[~customer.isin(types.index)]
    if len(missing):
        raise ValueError(f"truth_customers has no uplift_type for {missing.nunique()} customers of the training "
                         f"exposures (first: {missing.iloc[0]})")
    known = types.reindex(customer).to_numpy()
    revealed = training.assign(**{c: (known == t).astype(float) for c, t in columns.items()})
    scoring = revealed.drop_duplicates("customer_id").head(64)  # scores are not used: a few rows suffice
    fitted = fit_score_uplift(revealed, scoring, extra_features=list(columns), learner="auto",
                              base_learner=base_learner, n_folds=n_folds, random_state=random_state,
                              srm=srm, promotions=promotions, n_placebo=0)
    ev = evaluate_uplift_against_truth(fitted.holdout_predictions, true_effects, n_bootstrap=0)
    return ev[["experiment_id", "promotion_id", "learner", "qini_oracle_ratio", "true_gain_ratio"]].rename(
        columns={"qini_oracle_ratio": "type_revealed_qini_ratio", "true_gain_ratio": "type_revealed_gain_ratio"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True,
                        help="folder with truth_exposures.parquet and truth_customers.parquet")
    parser.add_argument("--out", type=Path, required=True, help="JSON file (a .md next to it)")
    parser.add_argument("--label", default="", help="what world this is (written into the result)")
    args = parser.parse_args(argv)
    import duckdb

    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        training = con.sql("select * from marts.fct_uplift_training_exposures").to_arrow_table().to_pandas()
        arms = con.sql("select experiment_id, promotion_id, qini_oracle_ratio "
                           "from evaluation.ml_eval_uplift_vs_truth").to_arrow_table().to_pandas()
        srm = con.sql("select * from marts.fct_experiment_srm").to_arrow_table().to_pandas()
        promotions = con.sql("select * from staging.stg_shop__promotions").to_arrow_table().to_pandas()
    finally:
        con.close()
    truth = pd.read_parquet(args.truth / "truth_exposures.parquet",
                            columns=["exposure_id", "promotion_id", "true_uplift"])
    truth_customers = pd.read_parquet(args.truth / "truth_customers.parquet", columns=["customer_id", "uplift_type"])
    table = ceiling_table(training, truth, arms)
    revealed = type_revealed_table(training, truth_customers, truth, srm=srm, promotions=promotions)
    table = table.merge(revealed.drop(columns=["learner"]), on=["experiment_id", "promotion_id"], how="left")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"label": args.label, "warehouse": str(args.warehouse),
                                    "arms": table.to_dict(orient="records")}, indent=2) + "\n")
    md = ["| arm | treated | model | ceiling, boosting | ceiling, linear | R² boosting | type revealed |",
          "|---|---|---|---|---|---|---|"]
    for row in table.to_dict(orient="records"):
        md.append(f"| {row['promotion_id']} | {row['n_treated']:,} | {row['model_qini_ratio']:.2f} | "
                  f"{row['ceiling_boosting_qini_ratio']:.2f} (gain {row['ceiling_boosting_gain_ratio']:.2f}) | "
                  f"{row['ceiling_linear_qini_ratio']:.2f} (gain {row['ceiling_linear_gain_ratio']:.2f}) | "
                  f"{row['ceiling_boosting_r2']:.2f} | {row['type_revealed_qini_ratio']:.2f} "
                  f"(gain {row['type_revealed_gain_ratio']:.2f}) |")
    args.out.with_suffix(".md").write_text(
        f"# Uplift ceiling{': ' + args.label if args.label else ''}\n\nQini / oracle Qini of the model (out of fold) "
        "and of rankings learned from the true uplift on the same features (out of fold); \"gain\" is the same "
        "comparison on the true uplift instead of the realised outcomes (free of outcome noise), R² the share "
        "of the true uplift's variance the features explain; \"type revealed\" is the pipeline's learner "
        "refitted with the hidden uplift type as an extra feature (the limit of this much data).\n\n"
        + "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
