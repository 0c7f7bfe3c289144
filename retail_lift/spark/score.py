"""``retail-lift score --target spark``: the dbt Python models, run against a Spark warehouse.

dbt-spark runs Python models only on Databricks, so ``dbt build --target spark --selector spark_sql`` builds
the SQL layer and stops before them. This runner builds the rest, in dependency order:

- each dbt Python model file (``python_models/**.py``) is run as it is, with a small stand-in for dbt's
  ``dbt`` object: ``dbt.ref(name)`` reads the model's table from Spark and hands it over as Arrow
  (``.to_arrow_table()``, ``.columns``, ``.select("a", '"b"')``, ``.project("a, b")``, ``.filter("...")``:
  the parts of a DuckDB relation the package uses), ``dbt.config.get(key)`` answers from
  the model's dbt config. So Spark runs exactly the ``retail_lift`` functions that dbt runs on DuckDB, with the same
  configuration. The DataFrame or Arrow table the model returns is written back as a Spark table in the
  model's schema (``ml``, ``evaluation``, ...);
- the SQL models built on Python models (``ml_purchase_propensity_scores`` reads ``ml_purchase_propensity_fit``,
  ...) are built by dbt itself (``dbt run``) as soon as their parents exist;
- at the end ``dbt test`` runs the data tests of all of them.

Everything runs in one process, and so in one Spark session: the session dbt-spark opens (``method: session``)
is the one this runner reads and writes (the Derby metastore of a local warehouse admits a single JVM).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

PACKAGE = "retail_lift"


class SparkScoreError(RuntimeError):
    """A step of the Spark scoring run failed."""


@dataclass
class ScoreStep:
    """One step of the run: a Python model scored in-process, or a dbt invocation."""

    kind: str  # "python", "dbt run", "dbt test"
    names: list[str]
    seconds: float
    rows: int | None = None


@dataclass
class ScoreRun:
    steps: list[ScoreStep] = field(default_factory=list)

    @property
    def python_models(self) -> list[str]:
        return [n for s in self.steps if s.kind == "python" for n in s.names]


# ---------------------------------------------------------------- Arrow between Spark and pandas


def _naive_utc(table: pa.Table) -> pa.Table:
    """Timestamps as naive UTC, the way DuckDB hands TIMESTAMP columns to the Python models."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        t = column.type
        if pa.types.is_timestamp(t) and t.tz is not None:
            column = column.cast(pa.timestamp(t.unit, tz="UTC")).cast(pa.timestamp(t.unit))
        columns.append((name, column))
    return pa.table(dict(columns)) if columns else table


def spark_to_arrow(df) -> pa.Table:
    """A Spark DataFrame as an Arrow table (``toArrow`` on pyspark 4, through pandas on 3.5)."""
    if hasattr(df, "toArrow"):
        table = df.toArrow()
    else:  # pyspark 3.5
        table = pa.Table.from_pandas(df.toPandas(), preserve_index=False)
    return _naive_utc(table)


def _for_spark(table: pa.Table) -> pa.Table:
    """Arrow types Spark cannot store, replaced: all-NULL columns become strings, unsigned integers signed."""
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_null(t):
            t = pa.string()
        elif pa.types.is_unsigned_integer(t):
            t = pa.int64()
        elif pa.types.is_timestamp(t) and t.unit == "ns":
            t = pa.timestamp("us", tz=t.tz)
        elif pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_dictionary(t):
            t = t.value_type
        fields.append(pa.field(f.name, t))
    schema = pa.schema(fields)
    return table if schema.equals(table.schema) else table.cast(schema, safe=False)


def to_arrow_result(result) -> pa.Table:
    """A Python model's return value (pandas DataFrame or Arrow table) as Arrow."""
    if isinstance(result, pa.Table):
        return result
    if hasattr(result, "to_arrow_table"):
        return result.to_arrow_table()
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return pa.Table.from_pandas(result, preserve_index=False)
    raise SparkScoreError(f"a Python model returned {type(result).__name__}, not a DataFrame or an Arrow table")


# ---------------------------------------------------------------- the stand-in for dbt's `dbt` object


def _duckdb_unquoted(name: str) -> str | None:
    """The name inside a DuckDB double-quoted identifier (doubled quotes inside are one quote); None when
    ``name`` is not one."""
    if len(name) > 1 and name[0] == name[-1] == '"' and '"' not in name[1:-1].replace('""', ""):
        return name[1:-1].replace('""', '"')
    return None


def _spark_identifier(expr: str) -> str:
    """A DuckDB-quoted identifier as Spark SQL quotes it (backticks); any other expression as it is."""
    name = _duckdb_unquoted(expr)
    return expr if name is None else "`" + name.replace("`", "``") + "`"


class _Relation:
    def __init__(self, df):
        self._df = df

    @property
    def columns(self) -> list[str]:
        return list(self._df.columns)

    def select(self, *columns: str) -> _Relation:
        """Columns by name, as DuckDB's ``relation.select``; a DuckDB-quoted name (``'"col"'``) is unquoted."""
        names = [_duckdb_unquoted(c) or c for c in columns]
        return _Relation(self._df.select(*names))

    def project(self, columns: str) -> _Relation:
        """Expressions, as DuckDB's ``relation.project("a, b")``; a DuckDB-quoted name (``'"a"'``) is a
        column, not the string literal Spark SQL would read."""
        return _Relation(self._df.selectExpr(*[_spark_identifier(c.strip()) for c in columns.split(",")
                                               if c.strip()]))

    def filter(self, condition: str) -> _Relation:
        return _Relation(self._df.filter(condition))

    def limit(self, n: int) -> _Relation:
        return _Relation(self._df.limit(n))

    def to_arrow_table(self) -> pa.Table:
        return spark_to_arrow(self._df)

    def df(self):
        return self.to_arrow_table().to_pandas()


class _Config:
    def __init__(self, config: dict):
        self._config = config

    def __call__(self, *args, **kwargs) -> str:  # dbt.config(materialized="table"): set at parse time
        return ""

    def get(self, key, default=None):
        value = self._config.get(key)
        return default if value is None else value


class _Dbt:
    """What a Python model calls on ``dbt``: ref, source, config, this, is_incremental."""

    def __init__(self, spark, node, manifest):
        self._spark = spark
        self._node = node
        self._manifest = manifest
        self.config = _Config({**node.config.extra, **node.config.to_dict()})
        self.this = relation_name(node)
        self.is_incremental = False

    def ref(self, name: str, *args, **kwargs) -> _Relation:
        name = args[0] if args else name  # ref(package, name)
        for unique_id in self._node.depends_on.nodes:
            parent = self._manifest.nodes.get(unique_id)
            if parent is not None and parent.name == name:
                return _Relation(self._spark.table(relation_name(parent)))
        raise SparkScoreError(f"{self._node.name}: ref('{name}') is not among the model's dependencies")

    def source(self, source_name: str, table_name: str) -> _Relation:
        for unique_id in self._node.depends_on.nodes:
            src = self._manifest.sources.get(unique_id)
            if src is not None and src.source_name == source_name and src.name == table_name:
                return _Relation(self._spark.table(f"{src.schema}.{src.identifier}"))
        raise SparkScoreError(f"{self._node.name}: source('{source_name}', '{table_name}') is not a dependency")


def relation_name(node) -> str:
    return f"{node.schema}.{node.alias or node.name}"


# ---------------------------------------------------------------- the run


def _dbt_args(project_dir: Path, profiles_dir: Path, target: str, target_path: Path | None,
              log_path: Path | None) -> list[str]:
    args = ["--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir), "--target", target]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    return args


def _invoke(runner, command: list[str], common: list[str]):
    result = runner.invoke([*command, *common])
    if not result.success:
        detail = result.exception or "; ".join(
            f"{r.node.name}: {r.message}" for r in (result.result or []) if str(r.status) in ("error", "fail")
        )
        raise SparkScoreError(f"dbt {' '.join(command)} failed: {detail}")
    return result


def _models_from_python(manifest) -> tuple[dict, dict]:
    """The Python models of the project and every model built on them, with their parents inside that set."""
    models = {uid: n for uid, n in manifest.nodes.items()
              if n.resource_type == "model" and n.package_name == PACKAGE}
    seeds = [uid for uid, n in models.items() if n.language == "python"]
    wanted = set(seeds)
    frontier = list(seeds)
    while frontier:
        uid = frontier.pop()
        for child in manifest.child_map.get(uid, []):
            if child in models and child not in wanted:
                wanted.add(child)
                frontier.append(child)
    parents = {uid: [p for p in models[uid].depends_on.nodes if p in wanted] for uid in wanted}
    return {uid: models[uid] for uid in wanted}, parents


def _downstream_of(names: Iterable[str], nodes: dict, parents: dict) -> tuple[dict, dict]:
    names = set(names)
    unknown = names - {n.name for n in nodes.values()}
    if unknown:
        raise SparkScoreError(f"not a Python model or a model built on one: {', '.join(sorted(unknown))}")
    wanted = {uid for uid, n in nodes.items() if n.name in names}
    changed = True
    while changed:
        changed = False
        for uid in nodes:
            if uid not in wanted and any(p in wanted for p in parents[uid]):
                wanted.add(uid)
                changed = True
    return ({uid: nodes[uid] for uid in wanted},
            {uid: [p for p in parents[uid] if p in wanted] for uid in wanted})


def run_python_model(spark, node, manifest, project_dir: Path) -> int:
    """Run one dbt Python model file against Spark and write its result as a Spark table; returns its rows."""
    path = Path(project_dir) / node.original_file_path
    spec = importlib.util.spec_from_file_location(f"_retail_lift_spark_{node.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = _for_spark(to_arrow_result(module.model(_Dbt(spark, node, manifest), spark)))
    name = relation_name(node)
    spark.sql(f"create schema if not exists {node.schema}")
    spark.sql(f"drop table if exists {name}")
    if table.num_columns == 0:
        raise SparkScoreError(f"{node.name} returned a table without columns")
    df = spark.createDataFrame(table) if table.num_rows else spark.createDataFrame([], _spark_schema(table))
    df.write.format("parquet").mode("overwrite").saveAsTable(name)
    return table.num_rows


def _spark_schema(table: pa.Table):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(table.schema)


@dataclass
class SparkTarget:
    runner: object  # dbtRunner with the parsed manifest
    manifest: object
    spark: object  # pyspark.sql.SparkSession
    common: list[str]  # dbt arguments naming the project, profile and target


def open_session(project_dir: Path, profiles_dir: Path, target: str = "spark", target_path: Path | None = None,
                 log_path: Path | None = None) -> SparkTarget:
    """Parse the project for a Spark target and open its Spark session in this process.

    The session is the one dbt-spark opens from the profile (``method: session``: same warehouse folder,
    metastore and settings); opening it runs ``register_sources``, so the sources point at the current files.
    """
    from dbt.cli.main import dbtRunner
    from pyspark.sql import SparkSession

    common = _dbt_args(Path(project_dir).resolve(), Path(profiles_dir).resolve(), target, target_path, log_path)
    manifest = _invoke(dbtRunner(), ["parse", "--quiet"], common).result
    if manifest.metadata.adapter_type != "spark":
        raise SparkScoreError(f"target {target} is a {manifest.metadata.adapter_type} target: on DuckDB, "
                              "`dbt build` runs the Python models itself")
    runner = dbtRunner(manifest=manifest)
    _invoke(runner, ["run-operation", "register_sources", "--quiet"], common)
    spark = SparkSession.builder.getOrCreate()
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return SparkTarget(runner, manifest, spark, common)


def run_score(
    project_dir: Path,
    profiles_dir: Path,
    target: str = "spark",
    target_path: Path | None = None,
    log_path: Path | None = None,
    test: bool = True,
    log: Callable[[str], None] = print,
    select: Iterable[str] = (),
) -> ScoreRun:
    """Build the Python models (and the SQL models on them) on the Spark target, then test them.

    ``select``: model names; only they and the models downstream of them are built (the others are read as
    they are), e.g. to resume a run after a failure.
    """
    project_dir = Path(project_dir).resolve()
    session = open_session(project_dir, profiles_dir, target, target_path, log_path)
    runner, manifest, spark, common = session.runner, session.manifest, session.spark, session.common
    run = ScoreRun()

    nodes, parents = _models_from_python(manifest)
    if select:
        nodes, parents = _downstream_of(select, nodes, parents)
    done: set[str] = set()
    while len(done) < len(nodes):
        ready = [uid for uid in sorted(nodes) if uid not in done and all(p in done for p in parents[uid])]
        if not ready:
            raise SparkScoreError("a cycle among the Python models")
        for uid in [u for u in ready if nodes[u].language == "python"]:
            node = nodes[uid]
            start = time.perf_counter()
            try:
                rows = run_python_model(spark, node, manifest, project_dir)
            except SparkScoreError:
                raise
            except Exception as e:
                raise SparkScoreError(f"{node.name}: {type(e).__name__}: {e}") from e
            step = ScoreStep("python", [node.name], time.perf_counter() - start, rows)
            run.steps.append(step)
            log(f"retail-lift score: {relation_name(node)}: {rows:,} rows in {step.seconds:.1f} s")
            done.add(uid)
        sql = [nodes[u].name for u in ready if nodes[u].language != "python"]
        if sql:
            start = time.perf_counter()
            _invoke(runner, ["run", "--quiet", "--select", *sql], common)
            run.steps.append(ScoreStep("dbt run", sql, time.perf_counter() - start))
            log(f"retail-lift score: dbt run {' '.join(sql)} ({time.perf_counter() - start:.1f} s)")
            done.update(u for u in ready if nodes[u].language != "python")
    if test:
        start = time.perf_counter()
        names = sorted(n.name for n in nodes.values())
        _invoke(runner, ["test", "--quiet", "--select", *names], common)
        run.steps.append(ScoreStep("dbt test", names, time.perf_counter() - start))
        log(f"retail-lift score: dbt test of {len(names)} models passed ({time.perf_counter() - start:.1f} s)")
    return run


def python_model_names(manifest) -> Iterable[str]:
    return sorted(n.name for n in manifest.nodes.values()
                  if n.resource_type == "model" and n.package_name == PACKAGE and n.language == "python")
