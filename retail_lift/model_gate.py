"""One heavy Python model at a time in a dbt process.

dbt-duckdb runs Python models in the threads of the dbt process, so two models that train on a million customers
side by side add their memory peaks (two classifier fits at the large preset: about twice the 6-7 GiB of one).
The table functions that train, solve or evaluate at scale are marked :func:`heavy`; at most
``RETAIL_LIFT_HEAVY_MODELS_AT_ONCE`` of them (default 1) run at once in a process, the others wait for a turn
(their log line says so). SQL models and light Python models never wait. ``0`` turns the gate off.

A heavy function that calls another one (in the same thread) does not wait for itself.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable

ENV = "RETAIL_LIFT_HEAVY_MODELS_AT_ONCE"
DEFAULT_AT_ONCE = 1

_state = threading.local()
_lock = threading.Lock()
_gates: dict[int, threading.BoundedSemaphore] = {}


def heavy_models_at_once() -> int:
    """The setting: ``RETAIL_LIFT_HEAVY_MODELS_AT_ONCE`` (a whole number, 0 or more; default 1)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_AT_ONCE
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(f"{ENV} must be a whole number, 0 (no limit) or more, got {raw!r}")
    return n


def _gate(n: int) -> threading.BoundedSemaphore:
    with _lock:
        return _gates.setdefault(n, threading.BoundedSemaphore(n))


def heavy(fn: Callable) -> Callable:
    """Mark a table function as heavy: it runs when fewer than the setting's number of heavy functions run."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        n = heavy_models_at_once()
        if n == 0 or getattr(_state, "depth", 0):
            return fn(*args, **kwargs)
        gate = _gate(n)
        if not gate.acquire(blocking=False):
            from retail_lift.frames import log_line

            t0 = time.perf_counter()
            log_line(f"{fn.__name__} waits for another heavy model to finish ({ENV}={n})")
            gate.acquire()
            log_line(f"{fn.__name__} starts after waiting {time.perf_counter() - t0:.1f} s")
        _state.depth = 1
        try:
            return fn(*args, **kwargs)
        finally:
            _state.depth = 0
            gate.release()

    wrapper.is_heavy = True
    return wrapper
