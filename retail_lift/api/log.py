"""The API's durable logs: JSON lines, one file per UTC day, fsync'ed before the API answers.

``decisions-YYYY-MM-DD.jsonl`` holds one object per decision with the columns of the raw-data
contract's ``decisions`` table (:data:`DECISION_COLUMNS`): ``decided_at`` is UTC without an
offset (``2026-11-28 02:36:58.123456``), ``action_probabilities`` and ``context`` are JSON *text*
(as in the contract), ``propensity`` a number; then the API's own fields (``served_as``,
``floor``, ``context_flags``, and with shadow scoring ``shadow_policy_id`` and
``shadow_action_probabilities``), which :func:`read_decision_log` (and so the ingestion) leaves
out. ``outcomes-YYYY-MM-DD.jsonl`` holds the outcomes reported to ``POST /outcome`` (not part of
the contract: rewards are measured from the orders by the build; kept for monitoring and audits),
``unmatched-outcomes-YYYY-MM-DD.jsonl`` the outcomes whose ``decision_id`` this API never logged
(answered 404, kept apart, never dropped).

Durability: :meth:`JsonLinesLog.commit` (what the API awaits) is *group commit*. The records that
arrive while earlier batches are being written are written together as the next batch: one
``write`` on a file opened with ``O_APPEND`` and one ``fsync`` per file and batch, in a writer
thread, with up to :attr:`JsonLinesLog.MAX_FLUSHES` = 2 batches in flight at once (on this
project's machine two overlapping ``fsync`` calls took far less than twice the time of one,
measured). Each caller resumes only after the ``fsync`` of its own batch returned, so an answered
decision survives a crash of the process (``kill -9``, tested) or of the machine. A line cut short
by a crash while it was being written is skipped by :func:`read_decision_log` (and counted), never
half-ingested.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from retail_lift.contract import TABLES

#: the contract's ``decisions`` columns, in order
DECISION_COLUMNS: tuple[str, ...] = tuple(TABLES["decisions"].column_names)
DECISIONS_PREFIX = "decisions-"
OUTCOMES_PREFIX = "outcomes-"
UNMATCHED_OUTCOMES_PREFIX = "unmatched-outcomes-"


def utc_now() -> datetime:
    """Now, in UTC, without tzinfo (the warehouse's timestamps are naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_timestamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def encode_line(record: dict) -> bytes:
    """One JSON line (compact, UTF-8, no NaN)."""
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


class JsonLinesLog:
    """Append-only JSON-lines files ``<prefix>YYYY-MM-DD.jsonl`` (UTC day of the record) in ``folder``."""

    #: batches :meth:`commit` may have in write + fsync at once (each in its own writer thread)
    MAX_FLUSHES = 2

    def __init__(self, folder: str | Path, prefix: str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self._lock = threading.Lock()
        self._pending: list[tuple[Path, bytes, asyncio.Future]] = []
        self._flushing = 0
        self._writer: ThreadPoolExecutor | None = None
        #: batches written by :meth:`commit` and the records in them (group commit at work)
        self.batches = 0
        self.committed = 0

    def path_for(self, day: datetime) -> Path:
        return self.folder / f"{self.prefix}{day:%Y-%m-%d}.jsonl"

    def _write(self, path: Path, data: bytes) -> None:
        """Append ``data`` to ``path`` with one ``write`` (under the log's lock, so that two batches
        never interleave) and ``fsync`` it (outside the lock: two batches may be fsync'ed at once)."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with self._lock:
                written = os.write(fd, data)
            if written != len(data):  # a regular file takes the whole write, or raises (disk full)
                raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)

    async def commit(self, record: dict, day: datetime) -> Path:
        """Write one record with group commit and return once it is ``fsync``'ed (see the module
        docstring). Raises what the write raised (e.g. ``OSError`` on a full disk) in every caller
        of the failed batch; nothing of a failed batch is acknowledged."""
        path = self.path_for(day)
        future = asyncio.get_running_loop().create_future()
        self._pending.append((path, encode_line(record), future))
        if self._flushing < self.MAX_FLUSHES:
            self._flushing += 1
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    def _write_batch(self, batch) -> None:
        by_path: dict[Path, list[bytes]] = {}
        for path, line, _ in batch:
            by_path.setdefault(path, []).append(line)
        for path, lines in by_path.items():
            self._write(path, b"".join(lines))

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=self.MAX_FLUSHES, thread_name_prefix=f"log-{self.prefix}")
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(self._writer, self._write_batch, batch)
                except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                self.batches += 1
                self.committed += len(batch)
                for path, _, fut in batch:
                    if not fut.done():
                        fut.set_result(path)
        finally:
            self._flushing -= 1

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
