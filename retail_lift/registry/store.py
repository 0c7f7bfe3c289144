"""The file layout of the registry, its versions and aliases.

::

    <root>/                          e.g. <warehouse dir>/models/
      <model name>/
        aliases.json                 {"champion": 3, "challenger": null}
        000001/
          model.pkl                  the fitted model (pickle; its SHA-256 is in version.json)
          version.json               the record of the training (ModelVersion.record)
          <artifact>.parquet         named tables of the training (e.g. its metrics, a drift reference)
        000002/ ...

A version folder is claimed with an exclusive ``mkdir`` (two trainings of the same model never get the same
number); its record ``version.json`` is written last (to a temporary name, then renamed), and a folder without
a record is not a version: a version either exists whole or not at all.
Aliases are rewritten atomically (write then ``os.replace``). Every model name is a folder of its own, so the
models of one build (dbt runs several at once) never write the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

__all__ = ["ALIASES", "CHALLENGER", "CHAMPION", "ModelFileError", "ModelRegistry", "ModelVersion", "code_version",
           "frame_fingerprint"]

CHAMPION = "champion"
CHALLENGER = "challenger"
#: the aliases a version can carry: builds score with the champion; a challenger is registered for review
#: (``retail-lift train --challenger``) and becomes champion only by :meth:`ModelRegistry.promote`
ALIASES = (CHAMPION, CHALLENGER)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_MODEL_FILE = "model.pkl"
_RECORD_FILE = "version.json"


class ModelFileError(RuntimeError):
    """A registered version's model file is missing, altered (checksum) or cannot be unpickled."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its name, number, folder and record (``version.json``)."""

    name: str
    version: int
    path: Path
    record: Mapping

    @property
    def trained_at(self) -> pd.Timestamp:
        """When the version was trained (UTC, naive: the warehouse's timestamps carry no zone)."""
        return pd.Timestamp(self.record["trained_at"])

    @property
    def feature_spec(self) -> list[dict]:
        return list(self.record.get("feature_spec", []))

    @property
    def model_file(self) -> Path:
        return self.path / _MODEL_FILE

    def age_days(self, now: datetime | pd.Timestamp) -> float:
        return (pd.Timestamp(now).tz_localize(None) - self.trained_at).total_seconds() / 86400.0


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a registered model name must be letters, digits, '_', '.' or '-', got {name!r}")
    return name


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC)).tz_localize(None).floor("us")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def code_version() -> dict:
    """The package version and, when the package sits in a git checkout, its commit (and whether it is dirty)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("retail-lift")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without an install
        package = None
    out = {"package_version": package, "git_commit": None, "git_dirty": None}
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                   capture_output=True, text=True, timeout=10)
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def frame_fingerprint(frame: pd.DataFrame) -> dict:
    """A fingerprint of a training frame: rows, the column names and dtypes in order, and a SHA-256 over the
    row hashes of :func:`pandas.util.hash_pandas_object` (order-dependent: the frame's rows are in a fixed
    order, see :func:`retail_lift.frames.as_frame`)."""
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {"rows": int(len(frame)), "columns": int(frame.shape[1]), "sha256": h.hexdigest()}


class ModelRegistry:
    """The registry in folder ``root`` (created when missing)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @classmethod
    def beside(cls, warehouse: str | os.PathLike) -> ModelRegistry:
        """The registry of a DuckDB warehouse file: the folder ``models/`` next to it."""
        return cls(Path(warehouse).resolve().parent / "models")

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # ---- reading ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self, name: str) -> list[ModelVersion]:
        folder = self.root / _check_name(name)
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.iterdir()):
            if p.is_dir() and p.name.isdigit() and (p / _RECORD_FILE).is_file():
                out.append(self.get(name, int(p.name)))
        return out

    def get(self, name: str, version: int) -> ModelVersion:
        path = self.root / _check_name(name) / f"{int(version):06d}"
        record_file = path / _RECORD_FILE
        if not record_file.is_file():
            raise KeyError(f"{name}: no registered version {version} in {self.root}")
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{name} version {version}: {record_file} cannot be read: {exc}") from exc
        return ModelVersion(name=name, version=int(version), path=path, record=record)

    def aliases(self, name: str) -> dict[str, int | None]:
        path = self.root / _check_name(name) / "aliases.json"
        if not path.is_file():
            return {a: None for a in ALIASES}
        data = json.loads(path.read_text())
        return {a: data.get(a) for a in ALIASES}

    def get_alias(self, name: str, alias: str = CHAMPION) -> ModelVersion | None:
        """The version ``alias`` points at, or None (no such alias, or its version folder is gone)."""
        if alias not in ALIASES:
            raise ValueError(f"alias must be one of {list(ALIASES)}, got {alias!r}")
        number = self.aliases(name).get(alias)
        if number is None:
            return None
        try:
            return self.get(name, number)
        except KeyError:
            return None

    def load_model(self, version: ModelVersion):
        """The fitted model of ``version``; :class:`ModelFileError` when the file is missing, does not match
        the checksum recorded at training, or cannot be unpickled."""
        path = version.model_file
        where = f"{version.name} version {version.version}"
        if not path.is_file():
            raise ModelFileError(f"{where}: model file {path} is missing")
        expected = version.record.get("model_sha256")
        actual = _sha256(path)
        if expected != actual:
            raise ModelFileError(f"{where}: model file {path} is corrupted (SHA-256 {actual[:12]}..., "
                                 f"recorded {str(expected)[:12]}...)")
        try:
            with open(path, "rb") as f:
                return pickle.load(f)  # noqa: S301 - the registry's own files, checked against the recorded hash
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a corrupted file
            raise ModelFileError(f"{where}: model file {path} cannot be loaded: {type(exc).__name__}: {exc}") \
                from exc

    def load_artifact(self, version: ModelVersion, artifact: str) -> pd.DataFrame:
        path = version.path / f"{_check_name(artifact)}.parquet"
        if not path.is_file():
            raise ModelFileError(f"{version.name} version {version.version}: artifact {path} is missing")
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable artifact is a corrupted version
            raise ModelFileError(f"{version.name} version {version.version}: artifact {path} cannot be read: "
                                 f"{exc}") from exc

    # ---- writing ---------------------------------------------------------------------------------

    def register(self, name: str, model, *, record: Mapping, artifacts: Mapping[str, pd.DataFrame] | None = None,
                 alias: str | None = CHAMPION, trained_at: datetime | pd.Timestamp | None = None) -> ModelVersion:
        """Register a new version of ``name`` (the next number) and point ``alias`` at it (None: no alias).

        ``record``: the training's record (JSON-able: parameters, metrics, feature spec, fingerprint, model-card
        inputs...); the registry adds ``name``, ``version``, ``trained_at`` (UTC), ``code_version``,
        ``model_sha256``, ``previous_champion`` (lineage) and ``alias``."""
        _check_name(name)
        if alias is not None and alias not in ALIASES:
            raise ValueError(f"alias must be one of {list(ALIASES)} or None, got {alias!r}")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        number = self._claim_number(folder)
        target = folder / f"{number:06d}"
        try:
            with open(target / _MODEL_FILE, "wb") as f:
                pickle.dump(model, f, protocol=5)
            for key, table in (artifacts or {}).items():
                table.to_parquet(target / f"{_check_name(key)}.parquet", index=False)
            previous = self.aliases(name).get(CHAMPION)
            full = {**dict(record), "name": name, "version": number,
                    "trained_at": pd.Timestamp(trained_at if trained_at is not None else _utc_now()).isoformat(),
                    "code_version": record.get("code_version") or code_version(),
                    "model_sha256": _sha256(target / _MODEL_FILE), "previous_champion": previous,
                    "alias": alias, "artifacts": sorted(artifacts or {})}
            _write_json(target / _RECORD_FILE, full)  # last: the version exists once its record does
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        if alias is not None:
            self.set_alias(name, alias, number)
        return self.get(name, number)

    @staticmethod
    def _claim_number(folder: Path) -> int:
        taken = [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
        number = max(taken, default=0) + 1
        while True:
            try:
                (folder / f"{number:06d}").mkdir()
                return number
            except FileExistsError:
                number += 1

    def set_alias(self, name: str, alias: str, version: int | None) -> None:
        if alias not in ALIASES:
            raise ValueError(f"alias must be one of {list(ALIASES)}, got {alias!r}")
        if version is not None:
            self.get(name, version)  # must exist
        current = self.aliases(name)
        current[alias] = None if version is None else int(version)
        (self.root / name).mkdir(parents=True, exist_ok=True)
        _write_json(self.root / name / "aliases.json", current)

    def promote(self, name: str, version: int | None = None) -> ModelVersion:
        """Make ``version`` (default: the challenger) the champion; the challenger alias is cleared when it
        pointed at it."""
        aliases = self.aliases(name)
        number = aliases[CHALLENGER] if version is None else int(version)
        if number is None:
            raise KeyError(f"{name}: no challenger to promote")
        self.set_alias(name, CHAMPION, number)
        if aliases[CHALLENGER] == number:
            self.set_alias(name, CHALLENGER, None)
        return self.get(name, number)
