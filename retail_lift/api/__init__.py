"""The decision API: serves the published promotion policy over HTTP and logs every decision in
the raw-data contract's ``decisions`` columns, so that the next build learns from it.

* :func:`.app.create_app` builds the FastAPI app (``POST /decide``, ``POST /outcome``, ``GET /healthz``);
* :func:`.ingest.merge_decision_log` appends the logged decisions to a raw data folder before
  ``retail-lift prepare`` (idempotent);
* :mod:`.cli` has the ``api`` (serve) and ``ingest-decisions`` commands.

FastAPI, pydantic and uvicorn are imported only here, so the rest of the package does not need them.
"""

from __future__ import annotations

__all__ = ["create_app", "merge_decision_log"]


def __getattr__(name):
    if name == "create_app":
        from .app import create_app
        return create_app
    if name == "merge_decision_log":
        from .ingest import merge_decision_log
        return merge_decision_log
    raise AttributeError(name)
