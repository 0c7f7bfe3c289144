"""The API's durable logs: JSON lines, one file per UTC day, appended and fsync'ed per record.

``decisions-YYYY-MM-DD.jsonl`` holds one object per decision with exactly the columns of the
raw-data contract's ``decisions`` table (:data:`DECISION_COLUMNS`): ``decided_at`` is UTC without
an offset (``2026-11-28 02:36:58.123456``), ``action_probabilities`` and ``context`` are JSON
*text* (as in the contract), ``propensity`` a number. ``outcomes-YYYY-MM-DD.jsonl`` holds the
outcomes reported to ``POST /outcome`` (not part of the contract: rewards are measured from the
orders by the build; the outcomes log is kept for monitoring and audits).

A record is written with one ``write`` on a file opened with ``O_APPEND`` and then ``fsync``'ed
before the API answers, so an answered decision survives a crash of the process or the machine.
A line cut short by a crash while it was being written is skipped by :func:`read_decision_log`
(and counted), never half-ingested.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from retail_lift.contract import TABLES

#: the contract's ``decisions`` columns, in order
DECISION_COLUMNS: tuple[str, ...] = tuple(TABLES["decisions"].column_names)
DECISIONS_PREFIX = "decisions-"
OUTCOMES_PREFIX = "outcomes-"


def utc_now() -> datetime:
    """Now, in UTC, without tzinfo (the warehouse's timestamps are naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_timestamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


class JsonLinesLog:
    """Append-only JSON-lines files ``<prefix>YYYY-MM-DD.jsonl`` (UTC day of the record) in ``folder``."""

    def __init__(self, folder: str | Path, prefix: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self._lock = threading.Lock()

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"{self.prefix}{day:%Y-%m-%d}.jsonl"

    def append(self, record: dict, day: datetime) -> Path:
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()
        path = self.path_for(day)
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):  # a regular file takes the whole write, or raises (disk full)
                    raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
                os.fsync(fd)
            finally:
                os.close(fd)
        return path

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(f"{self.prefix}*.jsonl"))


def read_jsonl(paths) -> tuple[list[dict], int]:
    """The records of JSON-lines files, and the number of lines skipped (not a JSON object: a line
    cut short by a crash)."""
    records, skipped = [], 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    skipped += 1
                    continue
                if isinstance(rec, dict):
                    records.append(rec)
                else:
                    skipped += 1
    return records, skipped


def decision_log_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob(f"{DECISIONS_PREFIX}*.jsonl"))


def read_decision_log(folder: str | Path) -> tuple[list[dict], int]:
    """Every logged decision of ``folder`` (only the contract's columns) and the skipped line count."""
    records, skipped = read_jsonl(decision_log_files(folder))
    out = []
    for rec in records:
        if not rec.get("decision_id"):
            skipped += 1
            continue
        out.append({c: rec.get(c) for c in DECISION_COLUMNS})
    return out, skipped
