"""The bandit tables' registered versions: train the candidates once, republish while no new decision arrives.

:class:`BanditRegistry` ties one bandit table that trains candidate policies (the holdout probabilities, the
off-policy evaluation with its gate, the published versions) to a :class:`~retail_lift.registry.ModelRegistry`.
A version holds the fitted policy states (one pickle: the :class:`~retail_lift.bandit.pipeline.CandidateSet`,
and the fallback for the published versions) and the table the training produced (artifact ``table``); its
record (``version.json``) holds the settings (``params``), the metrics, the feature spec (the ledger columns
read, with their kinds), the fingerprint of the decision ledger (:func:`ledger_fingerprint`: row count, last
decision time, content hash), the arm list and any other input (``inputs``), and the code version (by the
registry).

A build **trains** (fits the candidates, reruns what the table computes, registers the version) when
:func:`~retail_lift.registry.training_decision` says so (retrain requested, no champion, a missing or corrupted
model file or artifact, another feature spec, a champion older than ``max_model_age_days``), or when the
champion was computed from something else than this build's: other settings (the candidates' parameters, the
split, the seed, the evaluation's and the gate's settings), another ledger (new decisions, or rewards that
settled since), another arm list, or another input (the published versions: another evaluation). Otherwise
it **reuses** the champion: the table recorded at training is republished as it was, no policy is fitted and
no off-policy estimate is recomputed. The decision and its reason go to the table's ``registry_action`` and
``registry_reason`` columns (by the table layer).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from retail_lift.registry import (
    CHAMPION,
    ModelFileError,
    ModelRegistry,
    ModelVersion,
    RegistrySettings,
    TrainingDecision,
    frame_fingerprint,
    spec_differences,
    training_decision,
)

__all__ = ["REUSE", "BanditChampion", "BanditRegistry", "ledger_fingerprint", "table_fingerprint"]

#: ``TrainingDecision.action`` of a build that republishes the champion's table
REUSE = "reuse"
_TABLE = "table"
_DEFAULT_SETTINGS = RegistrySettings()


def _plain(value):
    """``value`` as it reads back from ``version.json`` (tuples as lists, keys as text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def ledger_fingerprint(ledger: pd.DataFrame) -> dict:
    """The fingerprint of a decision ledger: ``rows``, ``max_decided_at`` (ISO text; None when empty) and the
    ``sha256`` of its content (:func:`~retail_lift.registry.frame_fingerprint` of the rows sorted by
    ``decision_id``: the order a relation is read in does not count; a reward that settles changes it)."""
    rows = ledger.sort_values("decision_id", kind="stable") if "decision_id" in ledger.columns else ledger
    last = pd.to_datetime(ledger["decided_at"]).max() if len(ledger) else pd.NaT
    return {"rows": int(len(ledger)), "max_decided_at": None if pd.isna(last) else pd.Timestamp(last).isoformat(),
            "sha256": frame_fingerprint(rows.reset_index(drop=True))["sha256"]}


def table_fingerprint(table: pd.DataFrame, keys: Sequence[str]) -> dict:
    """``rows`` and ``sha256`` of a table sorted by ``keys`` (an input a version is computed from)."""
    rows = table.sort_values(list(keys), kind="stable").reset_index(drop=True)
    fp = frame_fingerprint(rows)
    return {"rows": fp["rows"], "sha256": fp["sha256"]}


def _ledger_change(version: int, before: Mapping, now: Mapping) -> str:
    if before.get("rows") != now["rows"] or before.get("max_decided_at") != now["max_decided_at"]:
        return (f"new decisions since version {version}: ledger of {before.get('rows')} -> {now['rows']} rows, "
                f"last decision {before.get('max_decided_at')} -> {now['max_decided_at']}")
    return (f"the decision ledger changed since version {version} (same {now['rows']} rows and last decision, "
            f"other content: e.g. rewards that settled)")


def _arm_change(version: int, before: Sequence, now: Sequence) -> str:
    added, dropped = sorted(set(now) - set(before)), sorted(set(before) - set(now))
    return f"the arm list changed since version {version}: added {added}, dropped {dropped}"


def _settings_change(version: int, before: Mapping, now: Mapping) -> str:
    keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    shown = "; ".join(f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in keys)
    return f"settings changed since version {version}: {shown}"


def _input_change(key: str, version: int, before, now) -> str:
    def shown(fp):
        if isinstance(fp, Mapping) and "sha256" in fp:
            return f"{fp.get('rows')} rows, content {str(fp['sha256'])[:12]}"
        return repr(fp)

    return f"the input {key} changed since version {version}: {shown(before)} -> {shown(now)}"


@dataclass
class BanditChampion:
    """The champion a reusing build republishes: its version, its fitted policy states and its table."""

    version: ModelVersion
    payload: object
    table: pd.DataFrame


class BanditRegistry:
    """The registry of one bandit table (module docstring). ``name``: the registered model's name (the dbt
    model's); ``params``: the settings the table is computed with (recorded, and compared with the champion's)."""

    def __init__(self, store: ModelRegistry, name: str, settings: RegistrySettings = _DEFAULT_SETTINGS,
                 params: Mapping | None = None, columns: Sequence[str] = ()):
        self.store = store
        self.name = name
        self.settings = settings
        self.params = _plain(dict(params or {}))
        #: the columns the table has today: a champion's table without one of them (recorded by another code
        #: version) is unusable, like a corrupted file
        self.columns = list(columns)
        self.champion: BanditChampion | None = None
        self.decision: TrainingDecision | None = None

    def _load(self, version: ModelVersion) -> BanditChampion:
        table = self.store.load_artifact(version, _TABLE)
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise ModelFileError(f"{self.name} version {version.version}: its table lacks the column(s) {missing} "
                                 f"(recorded by another code version)")
        return BanditChampion(version=version, payload=self.store.load_model(version), table=table)

    def _changes(self, version: ModelVersion, inputs: Mapping) -> str | None:
        """Why the champion was computed from something else than this build's (None: from the same)."""
        record, number = version.record, version.version
        if record.get("params") != self.params:
            return _settings_change(number, record.get("params") or {}, self.params)
        before = record.get("inputs") or {}
        for key, now in inputs.items():
            if before.get(key) == now:
                continue
            if key == "ledger":
                return _ledger_change(number, before.get(key) or {}, now)
            if key == "arms":
                return _arm_change(number, before.get(key) or [], now)
            return _input_change(key, number, before.get(key), now)
        return None

    def decide(self, spec_now: Sequence[Mapping], inputs: Mapping) -> TrainingDecision:
        """Train or reuse (module docstring), given the current feature spec and the fingerprints of the inputs
        (``{"ledger": ledger_fingerprint(...), "arms": [...], ...}``). When it reuses, :attr:`champion` holds
        the loaded champion; :class:`~retail_lift.registry.ModelMismatchError` as the classifiers'
        (``on_mismatch='fail'``)."""
        s = self.settings
        inputs = _plain(dict(inputs))
        version = None if s.retrain else self.store.get_alias(self.name, CHAMPION)
        champion, error, diff = None, None, ()
        if version is not None:
            diff = spec_differences(version.feature_spec, spec_now)
            try:
                champion = self._load(version)
            except ModelFileError as exc:
                error = str(exc)
        decision = training_decision(self.name, champion=version, retrain=s.retrain, model_error=error,
                                     spec_diff=diff, max_model_age_days=s.max_model_age_days, now=s.now,
                                     on_mismatch=s.on_mismatch)
        if not decision.trains:
            change = self._changes(version, inputs)
            if change is not None:
                decision = TrainingDecision("train", change)
            else:
                ledger = inputs.get("ledger") or {}
                decision = TrainingDecision(REUSE, (
                    f"reused version {version.version} (trained {version.trained_at:%Y-%m-%d %H:%M:%S} UTC): no new "
                    f"decisions (ledger of {ledger.get('rows')} rows, last decision {ledger.get('max_decided_at')}) "
                    f"and the same settings"))
        self.decision = decision
        self.champion = None if decision.trains else champion
        return decision

    def register(self, payload, table: pd.DataFrame, *, spec_now: Sequence[Mapping], inputs: Mapping,
                 metrics: Mapping | None = None, model_card: Mapping | None = None) -> ModelVersion:
        """Register a training: ``payload`` (the fitted policy states), ``table`` (what the build publishes,
        republished by the builds that reuse the version), the feature spec, the inputs' fingerprints, the
        metrics and the model-card inputs."""
        record = {
            "params": self.params,
            "metrics": _plain(dict(metrics or {})),
            "feature_spec": list(spec_now),
            "inputs": _plain(dict(inputs)),
            "training_data": dict(inputs.get("ledger") or {}),
            "model_card": _plain(dict(model_card or {})),
            "training_reason": self.decision.reason if self.decision is not None else "trained without a decision",
        }
        return self.store.register(self.name, payload, record=record, alias=self.settings.alias,
                                   artifacts={_TABLE: table})
