"""retail_lift.tables.customers: the CLV tables from their relation and typed configs.

The scores are the deterministic fit of retail_lift.clv.lifetime_value_table and the parameters the same fit
with the bootstrap, both with the config's settings; the two configs share discount rate and penalizer; the
same tables from a DuckDB relation as from pandas; clear errors for bad settings and a model store.
"""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from retail_lift import clv
from retail_lift.tables import from_settings
from retail_lift.tables.customers import (
    CustomerLifetimeValueConfig,
    CustomerLifetimeValueParamsConfig,
    ml_customer_lifetime_value,
    ml_customer_lifetime_value_params,
)

DATA = Path(__file__).parent / "data"
#: the registry's bookkeeping columns (retail_lift.clv_champion; NULL / "train" without a model store)
BOOKKEEPING = ["model_version", "trained_at", "registry_action", "registry_reason"]


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """The table without the registry's bookkeeping columns (checked to be NULL / trained without a store)."""
    assert table["model_version"].isna().all() and table["trained_at"].isna().all()
    if "registry_action" in table:
        assert table["registry_action"].eq("train").all()
        assert table["registry_reason"].eq("no model store: trained in this build").all()
    return table.drop(columns=[c for c in BOOKKEEPING if c in table])


@pytest.fixture(scope="module")
def inputs() -> pd.DataFrame:
    """fct_customer_ltv_inputs of the CDNOW sample (in weeks: any unit works), shuffled."""
    df = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return df.sample(frac=1.0, random_state=4).reset_index(drop=True)


def test_the_scores_are_the_deterministic_fit_with_the_config(inputs):
    relations = {"fct_customer_ltv_inputs": inputs}
    scores = _plain(ml_customer_lifetime_value(relations,
                                               CustomerLifetimeValueConfig(discount_rate=0.02, penalizer=0.01)))
    direct, _ = clv.lifetime_value_table(inputs, discount_rate=0.02, penalizer=0.01)
    pd.testing.assert_frame_equal(scores, direct)
    assert len(scores) == len(inputs) and scores["clv_status"].str.startswith("purchase model: ok").all()
    # the defaults are the build's: 1 % a month, no penalty
    pd.testing.assert_frame_equal(_plain(ml_customer_lifetime_value(relations)), clv.lifetime_value_table(inputs)[0])


def test_the_params_are_the_same_fit_with_the_bootstrap(inputs):
    relations = {"fct_customer_ltv_inputs": inputs}
    config = CustomerLifetimeValueParamsConfig(n_bootstrap=4, ci_level=0.8, random_state=3)
    params = _plain(ml_customer_lifetime_value_params(relations, config))
    _, direct = clv.lifetime_value_table(inputs, n_bootstrap=4, ci_level=0.8, random_state=3)
    pd.testing.assert_frame_equal(params, direct)
    assert (params["bootstrap_samples"].dropna() <= 4).all() and params["ci_low"].notna().any()
    # the point estimates do not depend on the bootstrap: the same fit as the scores
    _, unbooted = clv.lifetime_value_table(inputs)
    pd.testing.assert_series_equal(params["value"], unbooted["value"])


def test_the_two_configs_share_the_fit_settings_and_their_defaults():
    assert CustomerLifetimeValueParamsConfig() == CustomerLifetimeValueParamsConfig(
        discount_rate=CustomerLifetimeValueConfig().discount_rate, penalizer=CustomerLifetimeValueConfig().penalizer)
    assert CustomerLifetimeValueParamsConfig().n_bootstrap == 100
    config = from_settings(CustomerLifetimeValueParamsConfig, "ml_customer_lifetime_value_params",
                           discount_rate=None, penalizer=0, n_bootstrap=20.0, ci_level=None, random_state=None)
    assert config == CustomerLifetimeValueParamsConfig(n_bootstrap=20)
    assert isinstance(config.penalizer, float) and isinstance(config.n_bootstrap, int)
    with pytest.raises(ValueError, match=r"ml_customer_lifetime_value: unknown config key\(s\) \['n_bootstrap'\]"):
        from_settings(CustomerLifetimeValueConfig, "ml_customer_lifetime_value", n_bootstrap=10)


def test_the_tables_read_a_duckdb_relation_like_pandas(inputs):
    con = duckdb.connect()
    con.register("inputs_frame", inputs)
    relation = {"fct_customer_ltv_inputs": con.table("inputs_frame")}
    pd.testing.assert_frame_equal(ml_customer_lifetime_value(relation),
                                  ml_customer_lifetime_value({"fct_customer_ltv_inputs": inputs}))
    config = CustomerLifetimeValueParamsConfig(n_bootstrap=2)
    pd.testing.assert_frame_equal(ml_customer_lifetime_value_params(relation, config),
                                  ml_customer_lifetime_value_params({"fct_customer_ltv_inputs": inputs}, config))


@pytest.mark.parametrize(("config", "settings", "message"), [
    (CustomerLifetimeValueConfig, {"discount_rate": -0.01}, "ml_customer_lifetime_value: discount_rate must be"),
    (CustomerLifetimeValueConfig, {"penalizer": "0.1"}, "ml_customer_lifetime_value: penalizer must be a number"),
    (CustomerLifetimeValueParamsConfig, {"penalizer": -1}, "ml_customer_lifetime_value_params: penalizer must be"),
    (CustomerLifetimeValueParamsConfig, {"n_bootstrap": 2.5},
     "ml_customer_lifetime_value_params: n_bootstrap must be an integer >= 0"),
    (CustomerLifetimeValueParamsConfig, {"ci_level": 1.0},
     "ml_customer_lifetime_value_params: ci_level must be a number > 0 and < 1"),
    (CustomerLifetimeValueParamsConfig, {"random_state": -1},
     "ml_customer_lifetime_value_params: random_state must be an integer >= 0"),
])
def test_bad_settings_name_the_model_and_the_key(config, settings, message):
    with pytest.raises(ValueError, match=message):
        config(**settings)


def test_a_store_must_be_a_model_registry(inputs):
    with pytest.raises(TypeError, match="ml_customer_lifetime_value_params: store must be a retail_lift.registry"):
        ml_customer_lifetime_value_params({"fct_customer_ltv_inputs": inputs}, store=object())
    with pytest.raises(TypeError, match="ml_customer_lifetime_value: store must be a retail_lift.registry"):
        ml_customer_lifetime_value({"fct_customer_ltv_inputs": inputs}, store=object())
