"""The decision API (FastAPI): the published policy decides, every decision is logged durably.

::

    app = create_app("warehouse/retail_lift.duckdb", "logs/decisions")
    # uvicorn: retail-lift api --warehouse ... --log-dir ...   (retail_lift.api.cli)

``POST /decide``
    Body: ``customer_id`` and/or ``context`` (the policy's context fields, see :class:`Context`;
    unknown fields are rejected). With a context, the policy scores it (``hour`` defaults to the
    current UTC hour). With only a ``customer_id``, the context of that customer's latest logged
    decision in the warehouse is used (loaded once at startup from ``marts.fct_decision_ledger``;
    404 when the customer has none). Returns ``decision_id``, ``arm``, ``propensity``, ``policy_id``,
    ``version``, ``probabilities``, ``decided_at`` and ``context_source``. The decision is appended
    to the decision log (fsync'ed) *before* the answer, in the contract's ``decisions`` columns;
    its ``policy_id`` column there is ``<policy_id>_<version>`` (the policy and version that decided).
    A decision without ``customer_id`` is served and logged, but the build quarantines it
    (``missing_customer_id``): it cannot be rewarded.
``POST /outcome``
    Body: ``decision_id`` (one this API logged), optional ``converted`` / ``reward`` / ``revenue``
    and ``observed_at``. Appended to ``outcomes-YYYY-MM-DD.jsonl`` (for monitoring; the build
    measures rewards from the orders). 404 for an unknown decision id.
``GET /healthz``
    200 with the served policy and version; 503 (same body, ``policy_loaded: false`` and the
    reason) when no policy can be served.

The warehouse is read at startup only, with short read-only connections that are closed before
the app serves (:func:`retail_lift.warehouse.read_only`): a ``dbt build`` can rewrite the warehouse
while the API runs. A new build's policy is picked up by restarting the API.

When the gate kept the champion (the logging policy, which has no policy JSON in the warehouse:
the system that logs the decisions serves it), there is nothing to load: ``/decide`` answers 503
with the reason, ``/healthz`` 503. Pass ``policy_id="<candidate>"`` (``--policy-id``) to serve a
named candidate anyway, a deliberate choice the decisions' ``policy_id`` records.

Bad input answers 422 with FastAPI's ``detail`` list and a one-line ``message``
(``body.context.hour: Input should be less than or equal to 23; ...``).
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retail_lift.warehouse import read_only

from .log import DECISIONS_PREFIX, OUTCOMES_PREFIX, JsonLinesLog, format_timestamp, read_jsonl, utc_now

__all__ = ["Context", "DecideRequest", "DecideResponse", "OutcomeRequest", "create_app", "LEDGER_TABLE"]

#: where customer-only requests find the customer's latest logged context
LEDGER_TABLE = "marts.fct_decision_ledger"

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Flag = Literal[0, 1]


class Context(BaseModel):
    """The context fields the policies see (all optional: the encoder treats a missing field as
    unknown; ``hour`` defaults to the current UTC hour). Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
        "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}]})

    age_band: Annotated[str, Field(min_length=1, max_length=32, examples=["25-34"])] | None = None
    device: Annotated[str, Field(min_length=1, max_length=32, examples=["mobile"])] | None = None
    acquisition_channel: Annotated[str, Field(min_length=1, max_length=64, examples=["facebook"])] | None = None
    follows_page: Flag | None = None
    heard_of_shop: Flag | None = None
    orders_90d: Annotated[int, Field(ge=0, le=100_000)] | None = None
    days_since_last_order: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False,
                                                  description="null: never ordered")] | None = None
    views_30d: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    hour: Annotated[int, Field(ge=0, le=23, description="UTC hour of the decision; default: now")] | None = None


class DecideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id | None = None
    context: Context | None = None

    @model_validator(mode="after")
    def _customer_or_context(self):
        if self.customer_id is None and self.context is None:
            raise ValueError("give customer_id, context, or both")
        return self


class DecideResponse(BaseModel):
    decision_id: str
    customer_id: str | None
    arm: str
    propensity: float = Field(gt=0, le=1)
    policy_id: str
    version: str
    probabilities: dict[str, float]
    decided_at: str = Field(description="UTC, YYYY-MM-DD HH:MM:SS.ffffff")
    context_source: Literal["request", "latest_logged_decision"]


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_id: Id
    converted: bool | None = None
    reward: Annotated[float, Field(allow_inf_nan=False, description="explicit reward, e.g. 0/1")] | None = None
    revenue: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    observed_at: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$")] | None = None


class OutcomeResponse(BaseModel):
    decision_id: str
    recorded_at: str


class Health(BaseModel):
    status: Literal["ok", "no_policy"]
    policy_loaded: bool
    policy_id: str | None = None
    version: str | None = None
    created_at: str | None = None
    arms: list[str] = []
    reason: str | None = None
    known_customers: int = 0
    decisions_logged: int = 0
    decision_log_dir: str


def _error_message(errors) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        msg = e.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _load_policy(warehouse_path, policy_id):
    """(policy, None) or (None, reason): the reason is what /decide and /healthz answer with."""
    import duckdb

    from retail_lift.bandit.publish import NoServablePolicyError, load_published_policy

    try:
        return load_published_policy(warehouse_path, policy_id), None
    except NoServablePolicyError as e:
        return None, f"{e} (the API: start it with --policy-id NAME to serve a named candidate)"
    except (LookupError, FileNotFoundError) as e:
        return None, str(e)
    except duckdb.Error as e:
        return None, f"cannot read the published policies from {warehouse_path}: {str(e).splitlines()[0]}"


def _load_contexts(warehouse_path, table: str) -> dict[str, str]:
    """customer_id -> the JSON context of the customer's latest logged decision ({} when the warehouse
    or the table is missing)."""
    import duckdb

    if not Path(warehouse_path).exists():
        return {}
    sql = (f"select customer_id, context from (select customer_id, context, row_number() over "
           f"(partition by customer_id order by decided_at desc, decision_id desc) as rn from {table} "
           f"where customer_id is not null and context is not null) as t where rn = 1")
    try:
        with read_only(warehouse_path) as con:
            rows = con.execute(sql).fetchall()
    except duckdb.Error:
        return {}
    return {str(c): str(ctx) for c, ctx in rows}


def create_app(warehouse_path: str | Path, decision_log_dir: str | Path, *, policy_id: str | None = None,
               seed: int | None = None, ledger_table: str = LEDGER_TABLE) -> FastAPI:
    """The decision API over the warehouse's published policy (see the module docstring).

    ``policy_id``: serve this candidate instead of the active version. ``seed``: seed of the arm
    draws (default: fresh entropy). The policy and the customers' latest contexts are read once,
    here, with short read-only connections.
    """
    warehouse_path = Path(warehouse_path)
    policy, reason = _load_policy(warehouse_path, policy_id)
    contexts = _load_contexts(warehouse_path, ledger_table)
    decisions_log = JsonLinesLog(decision_log_dir, DECISIONS_PREFIX)
    outcomes_log = JsonLinesLog(decision_log_dir, OUTCOMES_PREFIX)
    known, _ = read_jsonl(decisions_log.files())
    known_ids = {str(r["decision_id"]) for r in known if r.get("decision_id")}
    rng = np.random.default_rng(seed)
    rng_lock = threading.Lock()  # numpy Generators are not thread-safe; sync endpoints run in a pool

    app = FastAPI(
        title="Retail Lift decision API",
        version="1",
        description="Chooses a promotion for a customer with the warehouse's published policy and logs "
                    "every decision (raw-data contract `decisions` columns) for the next build.",
    )
    app.state.policy = policy
    app.state.policy_error = reason
    app.state.warehouse_path = warehouse_path
    app.state.decision_log = decisions_log
    app.state.outcome_log = outcomes_log

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg", "input")} for e in exc.errors()]
        return JSONResponse(status_code=422, content=jsonable_encoder(
            {"message": f"invalid request: {_error_message(errors)}", "detail": errors}))

    def _fail(status: int, message: str):
        return JSONResponse(status_code=status, content={"message": message, "detail": message})

    @app.post("/decide", response_model=DecideResponse,
              responses={404: {"description": "customer_id has no logged context and no context was given"},
                         503: {"description": "no servable policy (the gate kept the logging policy)"}})
    def decide(req: DecideRequest):
        if policy is None:
            return _fail(503, f"no policy to serve: {reason}")
        if req.context is not None:
            ctx = req.context.model_dump(exclude_unset=True)  # an explicit null stays (never ordered)
            source = "request"
        elif req.customer_id in contexts:
            ctx = json.loads(contexts[req.customer_id])
            source = "latest_logged_decision"
        else:
            return _fail(404, f"customer {req.customer_id!r} has no logged decision context in {ledger_table}; "
                              f"send a context object")
        now = utc_now()
        if ctx.get("hour") is None:
            ctx["hour"] = now.hour
        try:
            with rng_lock:
                out = policy.decide(ctx, rng=rng)
        except (ValueError, TypeError) as e:
            return _fail(422, f"invalid request: the policy cannot score this context: {e}")
        decision_id = f"api_{uuid.uuid4().hex}"
        probabilities = {a: float(p) for a, p in out["probabilities"].items()}
        record = {
            "decision_id": decision_id,
            "customer_id": req.customer_id,
            "decided_at": format_timestamp(now),
            "policy_id": f"{out['policy_id']}_{out['version']}",
            "promotion_id": out["arm"],
            "propensity": float(out["propensity"]),
            "action_probabilities": json.dumps(probabilities, separators=(",", ":")),
            "context": json.dumps(ctx, separators=(",", ":")),
        }
        decisions_log.append(record, now)  # durable before we answer
        known_ids.add(decision_id)
        return DecideResponse(decision_id=decision_id, customer_id=req.customer_id, arm=out["arm"],
                              propensity=float(out["propensity"]), policy_id=out["policy_id"],
                              version=out["version"], probabilities=probabilities,
                              decided_at=record["decided_at"], context_source=source)

    @app.post("/outcome", response_model=OutcomeResponse,
              responses={404: {"description": "decision_id was not logged by this API"}})
    def outcome(req: OutcomeRequest):
        if req.decision_id not in known_ids:
            return _fail(404, f"decision {req.decision_id!r} was not logged by this API (log folder "
                              f"{decisions_log.folder})")
        now = utc_now()
        record = {**req.model_dump(), "recorded_at": format_timestamp(now)}
        outcomes_log.append(record, now)
        return OutcomeResponse(decision_id=req.decision_id, recorded_at=record["recorded_at"])

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz():
        body = Health(status="ok" if policy is not None else "no_policy", policy_loaded=policy is not None,
                      policy_id=None if policy is None else policy.policy_id,
                      version=None if policy is None else policy.version,
                      created_at=None if policy is None else str(policy.created_at),
                      arms=[] if policy is None else list(policy.arms), reason=reason,
                      known_customers=len(contexts), decisions_logged=len(known_ids),
                      decision_log_dir=str(decisions_log.folder))
        if policy is None:
            return JSONResponse(status_code=503, content=body.model_dump())
        return body

    return app
