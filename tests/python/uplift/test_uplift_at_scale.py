"""The memory-lean paths of retail_lift.uplift.pipeline give exactly the tables of the plain path.

At the ``large`` preset (a million customers) ``ml_uplift_run`` passes its inputs as DuckDB relations
(only the used columns are read, the categorical features as codes), scores customers in blocks
(``score_block_rows``) and hands the long table to the warehouse as Arrow (``as_arrow=True``). These
tests pin that each of those choices changes nothing in the output, bit for bit.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from test_uplift_pipeline import PROMOTIONS, _arm_effects, _world

from retail_lift.evaluation.uplift import evaluate_targeting_against_truth
from retail_lift.tables.uplift import arrow_table, long_table, uplift_run_table
from retail_lift.uplift.features import CATEGORICAL_FEATURES, build_features
from retail_lift.uplift.pipeline import SCORE_COLUMNS, UpliftResult, _rank_within, fit_score_uplift

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

KW = dict(srm=None, promotions=PROMOTIONS, base_learner="logistic", n_placebo=0, n_threads=1, random_state=0)


@pytest.fixture(scope="module")
def inputs():
    _, training, scoring, srm = _world(seed=11, n_customers=3000, n_a=2000, n_b=600)
    training = training.drop(columns=["true_uplift", "kind"])
    # NULL categories in both tables (all-zero dummies); two experiments, one arm each, both scored
    scoring.loc[scoring.index[::17], "region"] = None
    training.loc[training.index[::13], "device_preference"] = None
    return training, scoring


@pytest.fixture(scope="module")
def plain(inputs) -> UpliftResult:
    training, scoring = inputs
    return fit_score_uplift(training, scoring, score_block_rows=None, **KW)


def _assert_same(a: UpliftResult, b: UpliftResult) -> None:
    for name in UpliftResult.TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)


@pytest.mark.parametrize("block", [1, 997, 2999, 3000, 10_000])
def test_blocked_scoring_equals_unblocked(inputs, plain, block):
    training, scoring = inputs
    assert len(plain.scores) == 2 * len(scoring)  # both arms scored (exp_b is not flagged here)
    _assert_same(fit_score_uplift(training, scoring, score_block_rows=block, **KW), plain)


def test_default_block_equals_unblocked_with_boosting(inputs):
    training, scoring = inputs
    kw = dict(KW, base_learner="boosting", learner="t", n_folds=None)
    _assert_same(fit_score_uplift(training, scoring, score_block_rows=500, **kw),
                 fit_score_uplift(training, scoring, score_block_rows=None, **kw))


def test_arrow_and_relation_inputs_equal_pandas(inputs, plain):
    training, scoring = inputs
    # extra columns (never read) and a shuffled row order change nothing either
    t = pa.Table.from_pandas(training.assign(unused="x").sample(frac=1.0, random_state=3), preserve_index=False)
    s = pa.Table.from_pandas(scoring.assign(scored_as_of_at=pd.Timestamp("2024-01-01")), preserve_index=False)
    _assert_same(fit_score_uplift(t, s, score_block_rows=701, **KW), plain)
    con = duckdb.connect()
    con.register("t_arrow", t)
    con.register("s_arrow", s)
    rel_t, rel_s = con.sql("select * from t_arrow"), con.sql("select * from s_arrow")
    _assert_same(fit_score_uplift(rel_t, rel_s, **KW), plain)
    with pytest.raises(ValueError, match="variant"):
        fit_score_uplift(con.sql("select * exclude (variant) from t_arrow"), rel_s, **KW)
    with pytest.raises(ValueError, match="DuckDB relation"):
        fit_score_uplift([1, 2], rel_s, **KW)


def test_features_from_codes_equal_features_from_strings(inputs):
    training, scoring = inputs
    a_tr, a_sc = build_features(training, scoring)
    cat = {c: scoring[c].astype("category") for c in CATEGORICAL_FEATURES}
    b_tr, b_sc = build_features(training, scoring.assign(**cat))
    pd.testing.assert_frame_equal(a_tr, b_tr, check_exact=True)
    pd.testing.assert_frame_equal(a_sc, b_sc, check_exact=True)
    # a NULL category is all zeros; categories are read as strings (an int 1 and a "1" are one level)
    assert (a_sc.filter(like="region=").sum(axis=1)[scoring["region"].isna()] == 0).all()
    mixed = scoring.assign(gender=[1 if i % 2 else "1" for i in range(len(scoring))])
    _, m_sc = build_features(training.assign(gender="1"), mixed)
    assert [c for c in m_sc.columns if c.startswith("gender=")] == ["gender=1"] and (m_sc["gender=1"] == 1).all()


def test_long_arrow_table_equals_long_pandas_table_in_the_warehouse(inputs, plain):
    """``arrow_table`` and ``long_table`` make the same warehouse table (types, NULLs for NaN, values)."""
    training, scoring = inputs
    con = duckdb.connect()
    long = long_table(plain)
    arrow = arrow_table(plain)
    assert arrow.column_names == list(long.columns) and arrow.num_rows == len(long)
    con.execute("create table a as select * from long")
    con.execute("create table b as select * from arrow")
    assert con.sql("describe a").fetchall() == con.sql("describe b").fetchall()
    assert con.sql("select * from a order by all").fetchall() == con.sql("select * from b order by all").fetchall()
    run = uplift_run_table(training, scoring, None, pd.DataFrame(
        {"promotion_id": list(PROMOTIONS), "discount_rate": [0.2, 0.0], "contact_cost": [0.05, 0.01]}),
        as_arrow=True, base_learner="logistic", n_placebo=0, n_threads=1)
    assert isinstance(run, pa.Table) and run.num_rows == arrow.num_rows
    empty = uplift_run_table(training.iloc[:0], scoring, None, None, as_arrow=True, n_placebo=0, n_threads=1)
    assert empty.num_rows == 0 and empty.column_names[0] == "table_name"


def test_ranks_break_ties_by_customer_id_as_text():
    """Integer ids sort differently as text (10 < 9); tied scores are ranked by the text order."""
    _, training, scoring, _ = _world(seed=5, n_customers=400, n_a=1200, n_b=0)
    training = training.drop(columns=["true_uplift", "kind"])
    training = training[training["experiment_id"] == "exp_a"]
    # many identical customers: tied scores
    scoring = pd.concat([scoring.iloc[:20]] * 10, ignore_index=True)
    scoring["customer_id"] = np.random.default_rng(0).permutation(len(scoring)) + 1
    res = fit_score_uplift(training, scoring, score_block_rows=37, **KW)
    scores = res.scores
    assert list(scores.columns) == SCORE_COLUMNS and len(scores) == len(scoring)
    assert scores["predicted_uplift"].duplicated().any()  # there are ties
    assert isinstance(scores["customer_id"].iloc[0], str)
    np.testing.assert_array_equal(_rank_within(scores, "predicted_uplift"), scores["uplift_rank"].to_numpy())
    np.testing.assert_array_equal(_rank_within(scores, "predicted_treated_probability"),
                                  scores["propensity_rank"].to_numpy())
    assert (scores["uplift_rank"].to_numpy() == np.arange(1, len(scores) + 1)).all()


def test_targeting_evaluation_reads_only_the_scored_arms_and_the_control(plain):
    """ml_eval_targeting_vs_truth passes only the scored arms' and the control's true effects and only the
    columns used: the same table as with every arm and column."""
    customers = _world(seed=11, n_customers=3000, n_a=2000, n_b=600)[0]
    treated = "promotion_id != 'control'"
    effects = pd.concat([_arm_effects(customers, "arm_a"), _arm_effects(customers, "arm_b").query(treated),
                         _arm_effects(customers, "arm_a").query(treated).assign(promotion_id="unscored")],
                        ignore_index=True).assign(is_oracle_arm=False)
    kw = dict(promotions=PROMOTIONS, model_roi=plain.incremental_roi)
    full = evaluate_targeting_against_truth(plain.scores, effects, **kw)
    needed = ["customer_id", "promotion_id", "experiment_id", "predicted_uplift", "predicted_treated_probability"]
    arms = [*plain.scores["promotion_id"].unique(), "control"]
    narrow = evaluate_targeting_against_truth(
        plain.scores[needed], effects[effects["promotion_id"].isin(arms)].drop(columns="is_oracle_arm"), **kw)
    pd.testing.assert_frame_equal(full, narrow, check_exact=True)
    assert set(full["promotion_id"]) == {"arm_a", "arm_b"}


def test_evaluations_do_not_depend_on_the_row_order_the_warehouse_returns(plain):
    """The warehouse returns an unordered table in any order (parallel scans): the bootstrap interval of
    ml_eval_uplift_vs_truth and the sums of ml_eval_targeting_vs_truth are the same, bit for bit, for
    shuffled inputs."""
    from retail_lift.evaluation.uplift import evaluate_uplift_against_truth

    customers = _world(seed=11, n_customers=3000, n_a=2000, n_b=600)[0]
    effects = pd.concat([_arm_effects(customers, "arm_a"),
                         _arm_effects(customers, "arm_b").query("promotion_id != 'control'")], ignore_index=True)
    kw = dict(promotions=PROMOTIONS, model_roi=plain.incremental_roi)
    hp = plain.holdout_predictions
    true = effects.merge(hp[["exposure_id", "customer_id"]].drop_duplicates(), on="customer_id")[
        ["exposure_id", "promotion_id", "true_uplift"]].drop_duplicates(["exposure_id", "promotion_id"])
    ordered = evaluate_uplift_against_truth(hp, true, n_bootstrap=50)
    assert ordered["ratio_ci_low"].notna().all()
    targeting = evaluate_targeting_against_truth(plain.scores, effects, **kw)
    for seed in (1, 2):
        shuffled = evaluate_uplift_against_truth(hp.sample(frac=1.0, random_state=seed), true, n_bootstrap=50)
        pd.testing.assert_frame_equal(ordered, shuffled, check_exact=True)
        pd.testing.assert_frame_equal(
            targeting,
            evaluate_targeting_against_truth(plain.scores.sample(frac=1.0, random_state=seed),
                                             effects.sample(frac=1.0, random_state=seed), **kw),
            check_exact=True)
