"""The glue of retail_lift.pipelines: fixed output schemas, populations, skipping on small data, and the
arithmetic that is not in the model packages (oracle probabilities, carried-over campaign response)."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from retail_lift import pipelines as P
from retail_lift.evaluation import predict as EP

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

# ----------------------------------------------------------------------------------------------
# synthetic marts
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """A small fct_customer_features: 400 customers in both snapshots, purchase driven by recent visits."""
    rng = np.random.default_rng(3)
    n = 400
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for role in ("train", "score"):
        sessions = rng.poisson(2.0, n)
        orders = rng.poisson(0.8, n)
        p = 1 / (1 + np.exp(-(-2.0 + 0.8 * sessions)))
        bought = rng.random(n) < p
        channel = np.where(rng.random(n) < 0.4, "facebook", "organic_search")
        follows = np.where(channel == "facebook", rng.random(n) < 0.7, rng.random(n) < 0.15)
        rows.append(pd.DataFrame({
            "customer_id": ids,
            "snapshot_role": role,
            "feature_date": pd.Timestamp("2026-03-01" if role == "train" else "2026-04-01").date(),
            "age_band": rng.choice(["18-24", "25-34", "35-44"], n),
            "gender": rng.choice(["female", "male"], n),
            "acquisition_channel": channel,
            "follows_page": follows,
            "sessions_30d": sessions,
            "orders_all": orders,
            "revenue_all": orders * 40.0,
            "discount_amount": orders * rng.uniform(0, 6, n),
            "discounted_order_share": np.where(orders > 0, rng.uniform(0, 1, n), np.nan),
            "avg_order_value": np.where(orders > 0, 40.0, np.nan),
            "days_since_first_order": np.where(orders > 0, rng.uniform(5, 200, n), np.nan),
            "sessions_all": sessions * 3,
            "online_order_share": np.where(orders > 0, 0.5, np.nan),
            "purchased_next_30d": (bought if role == "train" else np.full(n, None)),
            "orders_next_30d": (bought.astype(float) if role == "train" else np.full(n, np.nan)),
            "returned": (np.where(orders == 1, bought, None) if role == "train" else np.full(n, None)),
        }))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# cross-sell
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def order_lines() -> pd.DataFrame:
    """Customers who buy product a later buy b (a strong pair); x and y are popular fillers."""
    rng = np.random.default_rng(5)
    rows, oid = [], 0
    for c in range(300):
        t0 = pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(rng.integers(0, 40)))
        basket1 = ["a", "b"] if c % 2 == 0 else ["x", "y"]
        for item in basket1:
            rows.append((f"o{oid}", f"c{c}", t0, item))
        oid += 1
        t1 = pd.Timestamp("2026-03-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        later = ["c"] if c % 2 == 0 else ["x"]
        for item in later:
            rows.append((f"o{oid}", f"c{c}", t1, item))
        oid += 1
        if c % 2 == 0 and c < 100:  # a c-basket before the cutoff, so a -> c and b -> c exist
            rows.append((f"o{oid}", f"c{c}", t0, "a"))
            rows.append((f"o{oid}", f"c{c}", t0, "c"))
            oid += 1
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "product_id"])
    df["category_id"] = df["product_id"].map({"a": "k1", "b": "k1", "c": "k2", "x": "k3", "y": "k3"})
    return df


def test_rules_respect_the_minimum_pair_count(order_lines):
    rules = P.crosssell_rules(order_lines, min_pair_orders=10)
    assert set(zip(rules["antecedent_id"], rules["consequent_id"], strict=True)) >= {("a", "b"), ("b", "a")}
    assert (rules["pair_count"] >= 10).all() and (rules["lift"] >= 1).all()
    assert list(rules.columns) == list(P.RULE_TABLE_COLUMNS)
    assert P.crosssell_rules(order_lines, min_pair_orders=10_000).empty


def test_recommendations_skip_owned_items(order_lines):
    rules = P.crosssell_rules(order_lines, min_pair_orders=10)
    recs = P.crosssell_recommendations(order_lines, rules, n=3)
    owned = set(zip(order_lines["customer_id"], order_lines["product_id"], strict=True))
    assert not any((c, i) in owned for c, i in zip(recs["customer_id"], recs["item_id"], strict=True))
    assert recs.groupby("customer_id")["rank"].max().le(3).all()
    assert P.crosssell_recommendations(order_lines, rules.iloc[:0]).empty


def test_time_holdout_evaluation_beats_popularity_on_a_planted_pair(order_lines):
    ev = P.crosssell_evaluation(order_lines, "2026-02-15", levels=("product",), ns=(1, 3), min_pair_orders=10)
    assert list(ev.columns) == list(P.CROSSSELL_EVALUATION_COLUMNS)
    e = ev.set_index(["method", "n"])
    # the a/b buyers without c get c recommended and buy it after the cutoff
    assert e.loc[("association_rules", 1), "precision_at_n"] > 0.5
    assert e.loc[("association_rules", 1), "precision_at_n"] > e.loc[("popularity", 1), "precision_at_n"]
    assert e.loc[("popularity", 1), "n_rules"] is pd.NA or pd.isna(e.loc[("popularity", 1), "n_rules"])


# ----------------------------------------------------------------------------------------------
# campaign
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def campaign_inputs(features):
    score = features[features["snapshot_role"] == "score"]
    rng = np.random.default_rng(9)
    scores = pd.DataFrame({"customer_id": score["customer_id"], "purchase_probability": rng.uniform(0, 1, len(score))})
    activity = pd.DataFrame({"customer_id": np.repeat(score["customer_id"].to_numpy()[:50], 2),
                             "iso_weekday": 3, "hour_of_day": 20, "events": 5, "sessions_started": 2})
    promotions = pd.DataFrame({"promotion_id": ["email_10pct", "control"], "discount_rate": [0.1, 0.0],
                               "contact_cost": [0.05, 0.0], "gross_margin_rate": [0.35, 0.35]})
    fatigue = pd.DataFrame({"customer_id": ["C0001", "C0002"], "is_fatigued": [True, False]})
    return scores, activity, promotions, fatigue


def test_target_list_ranks_everyone_and_selects_a_share(campaign_inputs, features):
    scores, activity, promotions, fatigue = campaign_inputs
    t = P.campaign_target_list(scores, features, activity, promotions, fatigue, max_contacts_share=0.1)
    assert list(t.columns) == list(P.TARGET_LIST_COLUMNS)
    assert len(t) == len(scores) and t["rank"].tolist() == list(range(1, len(t) + 1))
    sel = t[t["status"] == "selected"]
    assert len(sel) == 40 and (sel["expected_profit"] > 0).all()
    assert t.loc[t["customer_id"] == "C0001", "status"].item() in ("excluded", "not_profitable")
    assert set(t["discount_rate"]) <= {0.0, 0.05, 0.1, 0.15, 0.2}
    assert t["best_weekday"].eq(3).all() and t["best_hour"].eq(20).all()  # one slot for everyone: the peak
    cmp = P.broadcast_vs_targeted(t).set_index("strategy")
    assert cmp.loc["broadcast", "contacts"] == len(t) and cmp.loc["targeted", "contacts"] == 40
    assert cmp.loc["targeted", "expected_roi"] > cmp.loc["broadcast", "expected_roi"]


def test_target_list_is_empty_without_the_promotion(campaign_inputs, features):
    scores, activity, promotions, fatigue = campaign_inputs
    t = P.campaign_target_list(scores, features, activity, promotions, fatigue, promotion_id="bogo")
    assert t.empty and list(t.columns) == list(P.TARGET_LIST_COLUMNS)
    assert P.broadcast_vs_targeted(t).empty


def test_discount_levels_scale_with_the_offer():
    assert P.discount_levels(0.10) == (0.0, 0.05, 0.1, 0.15, 0.2)
    assert P.discount_levels(0.0) == (0.0,)
    assert max(P.discount_levels(0.6)) == 0.95


def test_fatigue_uses_closed_windows_only():
    exposures = pd.DataFrame({
        "customer_id": ["c1", "c1", "c2"],
        "exposed_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
        "is_window_closed": [True, True, False],
        "is_converted": [True, False, None],
    })
    flags = P.fatigue_table(exposures)
    assert flags["customer_id"].tolist() == ["c1"] and flags["n_exposures"].tolist() == [2]
    assert not flags["is_fatigued"].any()
    curve = P.fatigue_curve_table(exposures)
    assert curve["exposures"].tolist() == [1, 1] and curve["response_rate"].tolist() == [1.0, 0.0]


def test_export_writes_the_selected_rows(tmp_path, campaign_inputs, features):
    scores, activity, promotions, fatigue = campaign_inputs
    t = P.campaign_target_list(scores, features, activity, promotions, fatigue, max_contacts=7)
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema ml")
    con.register("t", t)
    con.execute("create table ml.ml_campaign_target_list as select * from t")
    con.close()
    path = P.export_campaign_targets(db, tmp_path / "out" / "targets.csv")
    back = pd.read_csv(path)
    assert len(back) == 7 and back["rank"].is_monotonic_increasing and "status" not in back.columns
    assert list(back.columns)[:3] == ["customer_id", "rank", "purchase_probability"]


# ----------------------------------------------------------------------------------------------
# evaluation against the simulated world
# ----------------------------------------------------------------------------------------------


def test_window_probability_counts_only_active_days():
    p = EP.window_purchase_probability(
        [0.1, 0.1, 0.1, 0.0],
        pd.to_datetime(["2026-01-01", "2026-03-11", "2026-01-01", "2026-01-01"]),
        pd.to_datetime(["2027-01-01", "2027-01-01", "2026-03-06", "2027-01-01"]),
        pd.to_datetime(["2026-03-01"] * 4), 30)
    assert p == pytest.approx([1 - np.exp(-3.0), 1 - np.exp(-2.0), 1 - np.exp(-0.5), 0.0])
    # churned before the window: no chance
    assert EP.window_purchase_probability([1.0], ["2026-01-01"], ["2026-02-01"], ["2026-03-01"], 30)[0] == 0.0


def _rates(ids, rate):
    return pd.DataFrame({"customer_id": ids, "online_order_rate": rate, "store_order_rate": 0.0,
                         "active_from": pd.Timestamp("2025-01-01"), "active_until": pd.Timestamp("2030-01-01"),
                         "mean_order_value": 50.0})


def test_oracle_comparison_against_the_true_probabilities():
    rng = np.random.default_rng(1)
    n = 3000
    ids = [f"c{i}" for i in range(n)]
    rate = rng.gamma(1.0, 0.01, n)
    true_p = 1 - np.exp(-rate * 30)
    y = (rng.random(n) < true_p).astype(int)
    noisy = np.clip(true_p + rng.normal(0, 0.1, n), 0.001, 0.999)
    fit = pd.DataFrame({"record_type": "holdout", "model": "xgboost", "is_chosen_model": False,
                        "customer_id": ids, "probability": noisy, "label": y})
    snapshots = pd.DataFrame({"snapshot_role": ["train", "score"],
                              "feature_cutoff_at": pd.to_datetime(["2026-03-01", "2026-04-01"])})
    out = EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(ids, rate), snapshots).iloc[0]
    assert out["n"] == n and 0.5 < out["model_roc_auc"] < out["oracle_roc_auc"]
    assert out["auc_ratio"] == pytest.approx(out["model_roc_auc"] / out["oracle_roc_auc"])
    assert out["oracle_log_loss"] < out["model_log_loss"]
    # customers the truth does not know are left out; without any, no row
    assert EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(["zz"], 0.1), snapshots).empty


def test_campaign_response_is_carried_over_to_the_send_time():
    ids = pd.Series(["c1", "c2"])
    arms = pd.DataFrame({"customer_id": ["c1", "c1", "c2", "c2"],
                         "promotion_id": ["control", "email_10pct", "control", "email_10pct"],
                         "p_convert": [0.2, 0.3, 0.2, 0.1]})
    rate = -np.log(0.9) / 14  # p0 = 0.1 over a 14-day window
    out = EP._true_campaign_response(ids, _rates(ids, rate), arms, "email_10pct", pd.Timestamp("2026-04-01"), 14)
    assert out["p_control"].tolist() == pytest.approx([0.1, 0.1])
    # c1: the offer adds e = 1 - 0.7 / 0.8 = 0.125 -> 1 - 0.9 * 0.875; c2 (suppressed): 0.1 * 0.1 / 0.2
    assert out["p_offer"].tolist() == pytest.approx([1 - 0.9 * 0.875, 0.05])


def test_typed_gives_empty_tables_their_columns():
    out = P.typed_frame(None, {"a": "str", "b": "float", "c": "int", "d": "bool", "e": "ts"})
    assert list(out.columns) == list("abcde") and len(out) == 0
    assert [str(t) for t in out.dtypes] == ["str", "float64", "Int64", "boolean", "datetime64[us]"]
