"""retail_lift.tables: one typed config per dbt Python model holds its defaults; the model and its yml agree.

For every model of ``retail_lift.tables.MODEL_CONFIGS`` (``python_models/ml/``) and of
``retail_lift.evaluation.MODEL_CONFIGS`` (``python_models/evaluation/``): the dbt model reads exactly the
config's keys with literal ``dbt.config.get("key")`` calls, and its yml ``config:`` block states exactly the
config's defaults (a value ``"{{ var('name', fallback) }}"`` stands for the var of dbt_project.yml, which must
equal the fallback; the value and its string form, as a var passed on the command line arrives, must parse to
the same config).
Then the segments table itself: the segments family's fit table of the buyers, from pandas frames and from
DuckDB relations, and clear errors for bad settings (the other areas: tests/python/test_tables_<area>.py).
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from retail_lift import evaluation, tables
from retail_lift.segments import segment_fit_table
from retail_lift.settings import plain_defaults
from retail_lift.tables import from_settings
from retail_lift.tables.experiments import ExperimentDecisionsConfig, ExperimentResultsConfig
from retail_lift.tables.segments import (
    FEATURE_COLUMNS,
    SEGMENT_FEATURES,
    SEGMENT_FIT_COLUMNS,
    SEGMENT_PROFILE_FEATURES,
    CustomerSegmentsFitConfig,
    ml_customer_segments_fit,
)

ROOT = Path(__file__).resolve().parents[2]
#: the typed config of every dbt Python model, by model name: the table layer's and the evaluation layer's
MODEL_CONFIGS = {**tables.MODEL_CONFIGS, **evaluation.MODEL_CONFIGS}
#: the folder of python_models/ each layer's models are in
LAYER_FOLDERS = {**{m: "ml" for m in tables.MODEL_CONFIGS}, **{m: "evaluation" for m in evaluation.MODEL_CONFIGS}}
#: config keys of dbt itself, not of the model's Python code
DBT_CONFIG_KEYS = {"tags", "materialized", "meta", "schema", "alias", "enabled", "docs", "contract", "packages",
                   "submission_method", "grants", "persist_docs", "full_refresh", "on_schema_change"}


def _model_file(model: str) -> Path:
    folder = LAYER_FOLDERS[model]
    found = list((ROOT / "python_models" / folder).glob(f"*/{model}.py"))
    assert len(found) == 1, f"{model}: no single python_models/{folder}/<area>/{model}.py"
    return found[0]


def defaults(model: str) -> dict:
    """The defaults of the model's config as its layer states them (``tables.defaults`` / ``evaluation.defaults``)."""
    layer = tables if model in tables.MODEL_CONFIGS else evaluation
    stated = layer.defaults(model)
    assert stated == plain_defaults(MODEL_CONFIGS[model])
    return stated


def test_every_python_model_has_one_config_in_its_layer():
    """No model is in both layers' mappings, and every dbt Python model of python_models/ has a config."""
    assert not set(tables.MODEL_CONFIGS) & set(evaluation.MODEL_CONFIGS)
    for folder in ("ml", "evaluation"):
        models = {p.stem for p in (ROOT / "python_models" / folder).glob("*/*.py")}
        assert models == {m for m, f in LAYER_FOLDERS.items() if f == folder}, folder


def _yml_config(model: str) -> dict:
    for path in _model_file(model).parent.glob("_*__models.yml"):
        for m in yaml.safe_load(path.read_text())["models"]:
            if m["name"] == model:
                return {k: v for k, v in (m.get("config") or {}).items() if k not in DBT_CONFIG_KEYS}
    raise AssertionError(f"{model}: not in a yml beside it")


#: a yml config value taken from a dbt var: "{{ var('name', fallback) }}"
VAR_TEMPLATE = re.compile(r"\{\{\s*var\(\s*'(\w+)'\s*,\s*(.+?)\s*\)\s*\}\}")
PROJECT_VARS = yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def _var(model: str, key: str, value):
    """The var a yml config value names (``None`` if it is a plain value) and the value it stands for: the var
    of dbt_project.yml, which must equal the template's fallback (else the default depends on the project)."""
    m = VAR_TEMPLATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        return None, value
    name, fallback = m.group(1), m.group(2)
    fallback = None if fallback in ("none", "None") else yaml.safe_load(fallback)
    assert name in PROJECT_VARS, f"{model}.{key}: var {name!r} is not in dbt_project.yml"
    assert PROJECT_VARS[name] == fallback, (
        f"{model}.{key}: var {name!r} is {PROJECT_VARS[name]!r} in dbt_project.yml but {fallback!r} in the yml")
    return name, PROJECT_VARS[name]


def _stated_defaults(model: str) -> dict:
    """The yml config block with every var template replaced by the var's value."""
    return {k: _var(model, k, v)[1] for k, v in _yml_config(model).items()}


def _config_get_keys(model: str) -> list[str]:
    """The literal keys of the ``dbt.config.get("key")`` calls in the model's code."""
    keys = []
    for node in ast.walk(ast.parse(_model_file(model).read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and ast.unparse(node.func.value) == "dbt.config"):
            assert len(node.args) == 1 and isinstance(node.args[0], ast.Constant), (
                f"{model}: dbt.config.get takes the literal key only (the default is the config's)")
            keys.append(node.args[0].value)
    return keys


@pytest.mark.parametrize("model", sorted(MODEL_CONFIGS))
def test_the_model_reads_every_key_of_its_config(model):
    fields = [f.name for f in dataclasses.fields(MODEL_CONFIGS[model])]
    keys = _config_get_keys(model)
    assert sorted(keys) == sorted(fields) and len(set(keys)) == len(keys)


@pytest.mark.parametrize("model", sorted(MODEL_CONFIGS))
def test_the_yml_states_the_defaults_of_the_config(model):
    assert _stated_defaults(model) == defaults(model)


@pytest.mark.parametrize("model", sorted(MODEL_CONFIGS))
def test_the_config_parses_what_dbt_hands_the_model(model):
    """Plain yml values arrive as YAML types; a var template as the var's value (dbt renders it natively) or,
    for a var passed as a string on the command line, as its string ("None" for null)."""
    native, strings = {}, {}
    for key, value in _yml_config(model).items():
        var, stated = _var(model, key, value)
        native[key] = stated
        strings[key] = stated if var is None else str(stated)
    assert from_settings(MODEL_CONFIGS[model], model, **native) == MODEL_CONFIGS[model]()
    assert from_settings(MODEL_CONFIGS[model], model, **strings) == MODEL_CONFIGS[model]()


def test_unset_keys_take_the_defaults_and_unknown_keys_fail():
    assert from_settings(CustomerSegmentsFitConfig, "m", k_range=None, n_init=None) == CustomerSegmentsFitConfig()
    config = from_settings(CustomerSegmentsFitConfig, "m", k_range=[3, 5], sample_size=100)
    assert config.k_range == (3, 5) and config.sample_size == 100 and config.n_init == 4
    with pytest.raises(ValueError, match=r"ml_customer_segments_fit: unknown config key\(s\) \['k_rnage'\]"):
        from_settings(CustomerSegmentsFitConfig, "ml_customer_segments_fit", k_rnage=[2, 3])


@pytest.mark.parametrize("settings", [{"k_range": [1, 4]}, {"k_range": [5, 3]}, {"k_range": [2]},
                                      {"k_range": ["2", "8"]}, {"n_init": 0}, {"sample_size": 2.5},
                                      {"random_state": -1}, {"n_init": True}])
def test_bad_settings_name_the_model_and_the_key(settings):
    key = next(iter(settings))
    with pytest.raises(ValueError, match=f"ml_customer_segments_fit: {key} must be"):
        CustomerSegmentsFitConfig(**settings)


@pytest.fixture(scope="module")
def marts() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    n = 300
    ids = [f"C{i:04d}" for i in range(n)]
    orders = rng.poisson(1.5, n) + 1
    features = pd.concat([pd.DataFrame({
        "customer_id": ids, "snapshot_role": role, "days_since_first_order": rng.uniform(5, 300, n),
        "avg_order_value": rng.gamma(4, 10, n), "sessions_all": rng.poisson(6, n),
        "discounted_order_share": rng.uniform(0, 1, n), "online_order_share": rng.uniform(0, 1, n),
        "age_band": rng.choice(["18-24", "25-34", "45-54"], n), "unused_column": 1.0,
    }) for role in ("train", "score")], ignore_index=True)
    rfm = pd.DataFrame({"customer_id": ids, "recency_days": rng.exponential(40, n), "frequency": orders,
                        "monetary": orders * rng.gamma(4, 10, n)})
    return rfm, features


def _buyers(rfm: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The population and columns of ml_customer_segments_fit, by hand: the RFM buyers with their score snapshot."""
    score = features[features["snapshot_role"] == "score"].drop(columns=["snapshot_role", "unused_column"])
    buyers = rfm.merge(score, on="customer_id", how="left")
    return buyers.assign(young_share=buyers["age_band"].isin(["18-24", "25-34"]).astype(float))


#: the registry's bookkeeping columns of the segments fit table (NULL / "train" on the run row without a store)
SEGMENT_REGISTRY_COLUMNS = ["model_version", "trained_at", "registry_action", "registry_reason"]


def _unregistered(table: pd.DataFrame) -> pd.DataFrame:
    """The fit table without the bookkeeping columns, checked to be those of a call without a model store."""
    assert table["model_version"].isna().all() and table["trained_at"].isna().all()
    run = table["record_type"] == "run"
    assert table.loc[run, "registry_action"].eq("train").all()
    assert table.loc[run, "registry_reason"].eq("no model store: trained in this build").all()
    assert table.loc[~run, ["registry_action", "registry_reason"]].isna().all().all()
    return table.drop(columns=SEGMENT_REGISTRY_COLUMNS)


def test_the_segments_table_is_the_family_fit_table_with_the_config(marts):
    rfm, features = marts
    config = CustomerSegmentsFitConfig(k_range=(2, 4), sample_size=200, n_init=2, random_state=1)
    table = _unregistered(ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features},
                                                   config))
    direct = segment_fit_table(_buyers(rfm, features), SEGMENT_FEATURES, profile_columns=SEGMENT_PROFILE_FEATURES,
                               k_range=range(2, 5), random_state=1, sample_size=200, n_init=2)
    pd.testing.assert_frame_equal(table, direct)
    assert table.loc[table["record_type"] == "k_score", "k"].tolist() == [2, 3, 4]
    # the defaults are those of the build before the configs (k from 2 to 8, seed 0, 5,000 sampled, 4 restarts)
    pd.testing.assert_frame_equal(
        _unregistered(ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features})),
        segment_fit_table(_buyers(rfm, features), SEGMENT_FEATURES, profile_columns=SEGMENT_PROFILE_FEATURES,
                          k_range=range(2, 9), random_state=0, sample_size=5000, n_init=4))


def test_segments_stack_assignments_profiles_and_k_scores(marts):
    rfm, features = marts
    fit = ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features},
                                   CustomerSegmentsFitConfig(k_range=(2, 4)))
    assert list(fit.columns) == list(SEGMENT_FIT_COLUMNS)
    assign = fit[fit["record_type"] == "assignment"]
    prof = fit[fit["record_type"] == "profile"]
    ks = fit[fit["record_type"] == "k_score"]
    assert len(assign) == len(rfm) and assign["customer_id"].is_unique
    assert list(ks["k"]) == [2, 3, 4] and ks["is_chosen"].sum() == 1
    k = int(ks.loc[ks["is_chosen"], "k"].iloc[0])
    assert len(prof) == k and prof["share"].sum() == pytest.approx(1.0)
    assert set(assign["segment_name"]) == set(prof["segment_name"])
    assert fit.loc[fit["record_type"] == "run", "status"].iloc[0] == "trained"


def test_segments_skip_with_too_few_buyers(marts):
    _, features = marts
    rfm = pd.DataFrame({"customer_id": ["C0000", "C0001"], "recency_days": [1, 2], "frequency": [1, 2],
                        "monetary": [10.0, 20.0]})
    fit = ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features})
    assert fit["record_type"].tolist() == ["run"] and fit["status"].iloc[0] == "skipped"
    assert fit["message"].iloc[0] == "segments skipped: 2 buyers, too few for k in [2, 3, 4, 5, 6, 7, 8]"
    assert list(fit.columns) == list(SEGMENT_FIT_COLUMNS)


def test_the_segments_table_reads_duckdb_relations_and_only_the_columns_used(marts):
    rfm, features = marts
    con = duckdb.connect()
    con.register("rfm_frame", rfm)
    con.register("features_frame", features)
    relations = {"dim_customer_rfm": con.table("rfm_frame"), "fct_customer_features": con.table("features_frame")}
    config = CustomerSegmentsFitConfig(k_range=(2, 3), sample_size=200)
    from_duckdb = ml_customer_segments_fit(relations, config)
    from_pandas = ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features}, config)
    pd.testing.assert_frame_equal(from_duckdb, from_pandas)
    assert "unused_column" not in FEATURE_COLUMNS


def test_a_store_must_be_a_model_registry(marts):
    rfm, features = marts
    with pytest.raises(TypeError, match="ml_customer_segments_fit: store must be a retail_lift.registry"):
        ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features}, store=object())


@pytest.mark.parametrize(("as_of", "expected"), [(None, None), ("None", None), (" null ", None), ("", None),
                                                 ("2026-03-01", dt.date(2026, 3, 1)),
                                                 (dt.date(2026, 3, 1), dt.date(2026, 3, 1))])
def test_the_decisions_config_reads_the_as_of_var_as_the_model_did(as_of, expected):
    config = from_settings(ExperimentDecisionsConfig, "ml_experiment_decisions", experiments_as_of=as_of)
    assert config.experiments_as_of == expected and config.experiments_data_complete is False


@pytest.mark.parametrize(("complete", "expected"), [("False", False), ("True", True), ("yes", True), (" Y ", True),
                                                    ("1", True), (1, True), ("0", False), ("no", False),
                                                    (True, True), (False, False)])
def test_the_decisions_config_reads_the_data_complete_var_as_the_sql_macro(complete, expected):
    config = ExperimentDecisionsConfig(experiments_data_complete=complete)
    assert config.experiments_data_complete is expected


def test_bad_experiment_settings_name_the_model_and_the_key():
    with pytest.raises(ValueError, match="ml_experiment_decisions: experiments_as_of must be a date"):
        ExperimentDecisionsConfig(experiments_as_of="last tuesday")
    for key, value in (("alpha", 0), ("alpha", 1.5), ("power", True), ("power", "0.8"), ("mde_relative", -0.1)):
        with pytest.raises(ValueError, match=f"ml_experiment_results: {key} must be a number"):
            ExperimentResultsConfig(**{key: value})
    assert ExperimentResultsConfig(mde_relative=1).mde_relative == 1.0
