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

The measurement is :mod:`retail_lift.uplift.limits`; every build carries it per arm in
``evaluation.ml_eval_uplift_vs_truth`` (the better ceiling only, at most 40,000 exposures per arm); this
script writes it to a file with both regressions on every exposure.

    .venv/bin/python bench/uplift_ceiling.py --warehouse warehouse/retail_lift.duckdb \\
        --truth warehouse/truth --out bench/results/uplift_ceiling_default.json

The warehouse is opened read-only and closed before the fits (it does not block a running build).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from retail_lift.uplift.limits import feature_ceiling, type_revealed

CEILINGS = ("boosting", "linear")


def ceiling_table(training: pd.DataFrame, true_effects: pd.DataFrame, arms: pd.DataFrame, *,
                  n_folds: int = 5, random_state: int = 0) -> pd.DataFrame:
    """One row per arm: the model's ratio and the ceilings of rankings learned from the true uplift.

    :func:`retail_lift.uplift.limits.feature_ceiling` on every exposure (no subsample) of the arms of
    ``arms``, with the model's ``qini_oracle_ratio`` as ``model_qini_ratio``.

    Args:
        training: ``fct_uplift_training_exposures`` rows (keys, ``variant``, ``is_control``,
            ``is_converted`` and the feature columns).
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift`` (``truth_exposures``).
        arms: ``experiment_id``, ``promotion_id``, ``qini_oracle_ratio`` (the rows of
            ``ml_eval_uplift_vs_truth``).
    """
    arms = arms.astype({"experiment_id": str, "promotion_id": str}).sort_values(["experiment_id", "promotion_id"])
    pairs = list(zip(arms["experiment_id"], arms["promotion_id"], strict=True))
    table = feature_ceiling(training, true_effects, kinds=CEILINGS, arms=pairs, n_folds=n_folds,
                            random_state=random_state, max_rows=None)
    if table.empty:
        return table
    model = arms[["experiment_id", "promotion_id", "qini_oracle_ratio"]].rename(
        columns={"qini_oracle_ratio": "model_qini_ratio"})
    table = table.merge(model, on=["experiment_id", "promotion_id"], how="left")
    first = ["experiment_id", "promotion_id", "n_exposures", "n_treated", "oracle_qini", "model_qini_ratio"]
    return table[first + [c for c in table.columns if c not in first]]


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
    # the settings of ml_uplift_run are type_revealed's defaults
    revealed = type_revealed(training, truth_customers, truth, srm=srm, promotions=promotions)
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
