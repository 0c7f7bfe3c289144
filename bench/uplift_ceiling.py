"""How much of the oracle Qini can any uplift model reach from the warehouse's features? (simulated worlds)

The uplift target of issue 6 compares the model's out-of-fold Qini with the oracle Qini of the true
effects. The oracle ranks by each exposure's true uplift, which in the simulated world also depends on
things no feature shows (the random draw of the customer's uplift type, latent engagement). This
script measures that ceiling: for every evaluated arm it regresses the **true** uplift (noise free,
something no real model has) on the same features the uplift pipeline uses
(:func:`retail_lift.uplift.features.build_features`), out of fold (5 folds), and reports the Qini of
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

The measurement is :mod:`retail_lift.evaluation.uplift_limits`; every build carries it per arm in
``evaluation.ml_eval_uplift_vs_truth`` (the better ceiling only, at most 40,000 exposures per arm); this
script writes it to a file with both regressions on every exposure.

    .venv/bin/python bench/uplift_ceiling.py --warehouse warehouse/retail_lift.duckdb \\
        --truth warehouse/truth --out bench/results/uplift_ceiling_default.json

The warehouse is opened read-only and closed before the fits (it does not block a running build).

Issue 21 restates the target against the ceiling: per arm, the true-gain ratio of **the project's default**
learner is at least :data:`CEILING_SHARE` (0.9) x the feature ceiling's gain ratio (the better of the two
regressions, as :func:`retail_lift.evaluation.uplift_limits.uplift_limits` picks it). The default is refitted here
(``bench/uplift_default.py``: ``fit_score_uplift`` with the settings of ``ml_uplift_run``, read when the
script runs), so after a change of the default the same command measures the new one without rebuilding
the warehouse; the warehouse's own ``ml_eval_uplift_vs_truth`` ratio stays in the table as
``model_qini_ratio``. Columns ``default_gain_ratio``, ``default_qini_ratio``, ``default_learner``,
``ceiling_gain_ratio``, ``ceiling_kind``, ``gain_share_of_ceiling`` and ``meets_ceiling_target``.
``--no-type-revealed`` leaves out the type-revealed refit (one more fit of the default on every exposure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# one OpenMP / BLAS thread unless told otherwise: on a shared 2-core machine the boosting's threads spin
# against the other jobs (the default world's ceiling took 466 s with the default threads, 36 s with one)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from retail_lift.evaluation.uplift_limits import feature_ceiling, type_revealed  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uplift_default import default_settings, run_default  # noqa: E402

CEILINGS = ("boosting", "linear")
#: the target: the default's true-gain ratio >= this share of the feature ceiling's
CEILING_SHARE = 0.9


def ceiling_table(training: pd.DataFrame, true_effects: pd.DataFrame, arms: pd.DataFrame, *,
                  n_folds: int = 5, random_state: int = 0, max_rows: int | None = None) -> pd.DataFrame:
    """One row per arm: the model's ratio and the ceilings of rankings learned from the true uplift.

    :func:`retail_lift.evaluation.uplift_limits.feature_ceiling` on every exposure (no subsample) of the arms of
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
                            random_state=random_state, max_rows=max_rows)
    if table.empty:
        return table
    model = arms[["experiment_id", "promotion_id", "qini_oracle_ratio"]].rename(
        columns={"qini_oracle_ratio": "model_qini_ratio"})
    table = table.merge(model, on=["experiment_id", "promotion_id"], how="left")
    first = ["experiment_id", "promotion_id", "n_exposures", "n_treated", "oracle_qini", "model_qini_ratio"]
    return table[first + [c for c in table.columns if c not in first]]


def against_ceiling(table: pd.DataFrame, evaluation: pd.DataFrame, *, share: float = CEILING_SHARE) -> pd.DataFrame:
    """``table`` (:func:`ceiling_table`) with the default's ratios and the target against the ceiling.

    Args:
        table: one row per arm with ``ceiling_<kind>_gain_ratio`` for the kinds of :data:`CEILINGS`.
        evaluation: :func:`retail_lift.evaluation.uplift.evaluate_uplift_against_truth` of the default's
            out-of-fold predictions (``learner``, ``qini_oracle_ratio``, ``true_gain_ratio``).
        share: the share of the ceiling's gain ratio the default must reach.

    The ceiling is the better of the regressions by gain ratio (as ``uplift_limits``); an arm without a finite
    ratio on either side does not meet the target.
    """
    keys = ["experiment_id", "promotion_id"]
    default = evaluation[[*keys, "learner", "qini_oracle_ratio", "true_gain_ratio"]].rename(columns={
        "learner": "default_learner", "qini_oracle_ratio": "default_qini_ratio",
        "true_gain_ratio": "default_gain_ratio"}).astype({k: str for k in keys})
    out = table.astype({k: str for k in keys}).merge(default, on=keys, how="left")
    gains = out[[f"ceiling_{k}_gain_ratio" for k in CEILINGS]].to_numpy(float)
    finite = np.where(np.isfinite(gains), gains, -np.inf)
    best = finite.argmax(axis=1)
    out["ceiling_kind"] = [CEILINGS[i] if np.isfinite(finite[r, i]) else None for r, i in enumerate(best)]
    out["ceiling_gain_ratio"] = [finite[r, i] if np.isfinite(finite[r, i]) else np.nan for r, i in enumerate(best)]
    ceiling = out["ceiling_gain_ratio"].to_numpy(float)
    model = out["default_gain_ratio"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["gain_share_of_ceiling"] = np.where(ceiling > 0, model / ceiling, np.nan)
    out["target_share"] = share
    out["meets_ceiling_target"] = np.isfinite(out["gain_share_of_ceiling"]) & (out["gain_share_of_ceiling"] >= share)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--truth", type=Path,
                        help="folder with truth_exposures.parquet and truth_customers.parquet")
    parser.add_argument("--out", type=Path, required=True, help="JSON file (a .md next to it)")
    parser.add_argument("--label", default="", help="what world this is (written into the result)")
    parser.add_argument("--no-type-revealed", action="store_true",
                        help="leave out the type-revealed refit (its columns NaN)")
    parser.add_argument("--render-only", action="store_true",
                        help="no measurement: rewrite the .md next to --out from its JSON")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="the ceiling's regressions on at most this many exposures per arm (a seeded subsample, "
                        "as ml_eval_uplift_vs_truth's limits_max_rows); default every exposure")
    args = parser.parse_args(argv)
    if args.render_only:
        args.out.with_suffix(".md").write_text(render_markdown(json.loads(args.out.read_text())))
        return 0
    if args.warehouse is None or args.truth is None:
        parser.error("--warehouse and --truth are required (except with --render-only)")
    import time

    import duckdb

    from retail_lift.evaluation.uplift import evaluate_uplift_against_truth

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
    seconds = {}
    start = time.perf_counter()
    table = ceiling_table(training, truth, arms, max_rows=args.max_rows)
    seconds["ceiling"] = time.perf_counter() - start
    # the project's default, refitted with the settings of ml_uplift_run (read now, not at the last build)
    settings = default_settings()
    start = time.perf_counter()
    holdout = run_default(training, srm=srm, promotions=promotions, settings=settings)
    seconds["default"] = time.perf_counter() - start
    evaluation = evaluate_uplift_against_truth(holdout, truth, n_bootstrap=0)
    table = against_ceiling(table, evaluation)
    keys = ["experiment_id", "promotion_id"]
    if args.no_type_revealed:
        table = table.assign(type_revealed_qini_ratio=np.nan, type_revealed_gain_ratio=np.nan)
    else:
        start = time.perf_counter()
        revealed = type_revealed(training, truth_customers, truth, srm=srm, promotions=promotions,
                                 **{k: v for k, v in settings.items()
                                    if k in ("learner", "base_learner", "n_folds", "random_state")},
                                 n_threads=int(settings.get("n_threads", 1)))
        seconds["type_revealed"] = time.perf_counter() - start
        table = table.merge(revealed.drop(columns=["learner"]).astype({k: str for k in keys}), on=keys, how="left")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "label": args.label, "warehouse": str(args.warehouse), "target_share": CEILING_SHARE,
        "ceiling_max_rows": args.max_rows,
        "default_settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "arms": table.to_dict(orient="records")}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    md = render_markdown(result)
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


def render_markdown(result: dict) -> str:
    """The ``.md`` of a result JSON (``main`` writes both; ``--render-only`` rewrites the ``.md`` from the JSON)."""
    label, share, max_rows = result.get("label"), result.get("target_share", CEILING_SHARE), result.get(
        "ceiling_max_rows")
    rows = result["arms"]
    md = ["| arm | treated | model | ceiling, boosting | ceiling, linear | R² boosting | type revealed |",
          "|---|---|---|---|---|---|---|"]
    for row in rows:
        md.append(f"| {row['promotion_id']} | {row['n_treated']:,} | {row['model_qini_ratio']:.2f} | "
                  f"{row['ceiling_boosting_qini_ratio']:.2f} (gain {row['ceiling_boosting_gain_ratio']:.2f}) | "
                  f"{row['ceiling_linear_qini_ratio']:.2f} (gain {row['ceiling_linear_gain_ratio']:.2f}) | "
                  f"{row['ceiling_boosting_r2']:.2f} | {row['type_revealed_qini_ratio']:.2f} "
                  f"(gain {row['type_revealed_gain_ratio']:.2f}) |")
    target = [f"| arm | default learner | default gain | ceiling gain | default / ceiling | >= {share} |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        target.append(f"| {row['promotion_id']} | {row['default_learner']} | {row['default_gain_ratio']:.2f} | "
                      f"{row['ceiling_gain_ratio']:.2f} ({row['ceiling_kind']}) | {row['gain_share_of_ceiling']:.3f} | "
                      f"{'met' if row['meets_ceiling_target'] else 'missed'} |")
    settings = result.get("default_settings", {})
    seconds = result.get("seconds", {})
    subsample = (f" The ceiling's regressions use at most {max_rows:,} exposures per arm (a seeded subsample, as "
                 "`ml_eval_uplift_vs_truth`'s `limits_max_rows`): \"treated\" counts the treated among them; the "
                 "model's and the default's ratios are over every exposure." if max_rows else "")
    return (
        f"# Uplift ceiling{': ' + label if label else ''}\n\nQini / oracle Qini of the model (out of fold) "
        "and of rankings learned from the true uplift on the same features (out of fold); \"gain\" is the same "
        "comparison on the true uplift instead of the realised outcomes (free of outcome noise), R² the share "
        "of the true uplift's variance the features explain; \"type revealed\" is the pipeline's learner "
        "refitted with the hidden uplift type as an extra feature (the limit of this much data; nan: not "
        "measured, `--no-type-revealed`). \"model\" is the warehouse's `ml_eval_uplift_vs_truth` (the default "
        f"at the last build).{subsample}\n\n"
        + "\n".join(md) + "\n\n"
        f"## Target: the default's true-gain ratio >= {share} x the feature ceiling's\n\n"
        f"The project's default refitted by the bench (`fit_score_uplift` with the settings of `ml_uplift_run`: "
        f"{', '.join(f'{k}={v}' for k, v in settings.items())}), out of fold; the ceiling is the better of the "
        f"two regressions by gain ratio. Seconds: {', '.join(f'{k} {v:.0f}' for k, v in seconds.items())}.\n\n"
        + "\n".join(target) + "\n")


if __name__ == "__main__":
    sys.exit(main())
