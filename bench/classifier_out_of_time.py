"""Old random-customer-holdout metrics against the new out-of-time test metrics, per classifier.

Usage: ``python bench/classifier_out_of_time.py WAREHOUSE.duckdb`` on a built warehouse (at least
``+ml_classifier_metrics +ml_classifier_runs +ml_classifier_feature_drift``).

*New*: the chosen model's ``test`` and ``validation`` metrics in ``ml_classifier_metrics`` (fitted on the
``oot_train`` snapshot at c - 90 days, chosen on ``oot_validation``, measured on ``oot_test``).
*Old*: the same classifier table functions (:mod:`retail_lift.tables.predict`, default configs) given
only the ``train`` and ``score`` snapshots, which is the previous scheme (a random 30 % customer holdout
inside the train snapshot, the model chosen on it, the threshold on out-of-fold calibrated probabilities);
its chosen model's ``holdout`` metrics. Prints both, the runs and the drift summary. Results:
``bench/results/classifier_out_of_time.md``.
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from retail_lift.tables import predict as TP

METRICS = ("roc_auc", "pr_auc", "brier")


def main(warehouse: str) -> None:
    con = duckdb.connect(warehouse, read_only=True)
    feat = con.execute("select * from marts.fct_customer_features").df()
    cat = con.execute("select * from marts.fct_customer_category_features").df()
    new = con.execute("select * from ml.ml_classifier_metrics where is_chosen_model").df()
    runs = con.execute("select * from ml.ml_classifier_runs order by classifier").df()
    pd.set_option("display.width", 250)
    print(runs[["classifier", "status", "validation", "chosen_model", "train_feature_date", "validation_feature_date",
                "test_feature_date", "refit_feature_date", "train_rows", "train_positives"]].to_string())
    in_time = feat[feat["snapshot_role"].isin(["train", "score"])].reset_index(drop=True)
    in_time_cat = cat[cat["snapshot_role"].isin(["train", "score"])].reset_index(drop=True)
    fits = {
        "purchase_propensity": TP.ml_purchase_propensity_fit({"fct_customer_features": in_time}),
        "returning_customer": TP.ml_returning_customer_fit({"fct_customer_features": in_time}),
        "facebook_acquisition": TP.ml_facebook_acquisition_fit({"fct_customer_features": in_time}),
        "category_propensity": TP.ml_category_propensity_fit({"fct_customer_category_features": in_time_cat}),
    }
    rows = []
    for c, f in fits.items():
        m = f[(f["record_type"] == "metric") & f["is_chosen_model"].fillna(False).astype(bool)
              & (f["split"] == "holdout")]
        old = m.set_index("metric")["value"]
        mine = new[new["classifier"] == c]
        test = mine[mine["split"] == "test"].set_index("metric")["value"]
        val = mine[mine["split"] == "validation"].set_index("metric")["value"]
        rows.append({"classifier": c, "old_model": m["model"].iloc[0] if len(m) else None,
                     "new_model": mine["model"].iloc[0] if len(mine) else None, "old_n": old.get("n"),
                     **{f"old_{k}": old.get(k) for k in METRICS}, **{f"val_{k}": val.get(k) for k in METRICS},
                     "test_n": test.get("n"), **{f"test_{k}": test.get(k) for k in METRICS}})
    print(pd.DataFrame(rows).round(4).to_string())
    print(con.execute("select classifier, count(*) as features, sum(is_drift_warning::int) as warnings, "
                      "max(psi) as max_psi, arg_max(feature, psi) as top_feature "
                      "from ml.ml_classifier_feature_drift group by 1 order by 1").df().to_string())


if __name__ == "__main__":
    main(sys.argv[1])
