"""The decision API (FastAPI): the published policy decides, every decision is logged durably.

::

    app = create_app("warehouse/retail_lift.duckdb", "logs/decisions")
    # uvicorn: retail-lift api --warehouse ... --log-dir ... [--floor 0.01] [--shadow lints]

What is served
--------------
The active version of ``ml.ml_bandit_published_policy`` (the off-policy gate's choice). When the
gate kept the champion, the logging policy (which has no policy JSON: the system that logs the
decisions serves it), the API serves the build's declared **fallback**, the logging policy's arm
shares overall and per segment with enough logged decisions (:mod:`retail_lift.bandit.fallback`);
``/decide`` and ``/healthz`` say so (``served_as: "fallback"`` and the reason). ``policy_id=``
(``--policy-id``) serves a named version instead (``served_as: "requested"``). The API answers 503
only when there is nothing to serve: no warehouse, or a warehouse without any decision (the
message says what to do), or a named version that cannot be loaded.

**Exploration floor.** Every arm of the served version gets at least ``floor`` (default
:data:`~retail_lift.bandit.serve.DEFAULT_FLOOR` = 0.01; ``floor * arms <= 1``): the policy's
probabilities ``p`` become ``(1 - k * floor) * p + floor`` before the draw, and the logged
``propensity`` and ``action_probabilities`` are these floored probabilities, the ones the arm was
drawn with.

**Shadow scoring.** ``shadow="lints"`` (``--shadow``) loads a second version that scores the
same context beside the served one; its (floored) probabilities go into the same log record
(``shadow_policy_id``, ``shadow_action_probabilities``) for later off-policy evaluation. It is
never served.

Endpoints
---------
``POST /decide``
    Body: ``customer_id`` and/or ``context`` (the policy's context fields, see :class:`Context`).
    With a context, the policy scores it (``hour`` defaults to the current UTC hour). With only a
    ``customer_id``, the context of that customer's latest logged decision in the warehouse is used
    (loaded once at startup from ``marts.fct_decision_ledger``; 404 when the customer has none).
    A context key the policies do not know, or a categorical value the served version's encoder
    never saw, is *not* rejected: the encoder puts it in its unknown bucket, and the decision is
    flagged (``context_flags``: ``unknown_key:<key>``, ``unknown_value:<field>``) in the answer
    and the log; unknown keys stay in the logged context. Returns ``decision_id``, ``arm``,
    ``propensity``, ``policy_id``, ``version``, ``probabilities``, ``decided_at``,
    ``context_source``, ``served_as``, ``served_reason`` and ``context_flags``. The decision is appended to the
    decision log and ``fsync``'ed (group commit, :class:`~.log.JsonLinesLog`) *before* the answer:
    every 200 answer has exactly one log line. Its ``policy_id`` column there is
    ``<policy_id>_<version>``. A decision without ``customer_id`` is served and logged, but the
    build quarantines it (``missing_customer_id``): it cannot be rewarded.
``POST /outcome``
    Body: ``decision_id`` (one this API logged), optional ``converted`` / ``reward`` / ``revenue``
    and ``observed_at``. Appended to ``outcomes-YYYY-MM-DD.jsonl`` (for monitoring; the build
    measures rewards from the orders). An unknown decision id answers 404 and the outcome is kept
    apart in ``unmatched-outcomes-YYYY-MM-DD.jsonl``, never dropped.
``GET /healthz``
    200 with the served policy, version, ``served_as``, the reason of a fallback, the floor and the
    shadow; 503 (same body, ``policy_loaded: false`` and the reason) when nothing can be served.

The warehouse is read at startup only, with short read-only connections that are closed before
the app serves (:func:`retail_lift.warehouse.read_only`): a ``dbt build`` can rewrite the warehouse
while the API runs. A new build's policy is picked up by restarting the API.

Bad input (malformed JSON, a wrong type or range of a known field, an unknown top-level field)
answers 422 with FastAPI's ``detail`` list and a one-line ``message``
(``body.context.hour: Input should be less than or equal to 23; ...``).

The endpoints are ``async`` and run on the event loop (one process): the policy scores in
microseconds, and the only wait, the log's ``fsync``, runs in the log's writer threads (group commit,
:class:`~.log.JsonLinesLog`). ``POST /decide`` is served by a small ASGI fast path in front of
FastAPI's routing (:class:`_DecideFastPath`: the same :class:`DecideRequest` validation and 422
messages, the same handler); the FastAPI route declares it for the OpenAPI schema.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from retail_lift.bandit.serve import DEFAULT_FLOOR, check_floor
from retail_lift.warehouse import read_only

from .log import (
    DECISIONS_PREFIX,
    OUTCOMES_PREFIX,
    UNMATCHED_OUTCOMES_PREFIX,
    JsonLinesLog,
    format_timestamp,
    read_jsonl,
    utc_now,
)

__all__ = ["Context", "DecideRequest", "DecideResponse", "Decider", "OutcomeRequest", "create_app", "LEDGER_TABLE"]

#: where customer-only requests find the customer's latest logged context
LEDGER_TABLE = "marts.fct_decision_ledger"

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Flag = Literal[0, 1]
_COMPACT = (",", ":")


class Context(BaseModel):
    """The context fields the policies see (all optional: the encoder treats a missing field as
    unknown; ``hour`` defaults to the current UTC hour). Other keys are accepted, kept in the
    logged context and flagged (``unknown_key:<key>``); the policies ignore them."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
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


ServedAs = Literal["active", "fallback", "requested"]


class DecideResponse(BaseModel):
    decision_id: str
    customer_id: str | None
    arm: str
    propensity: float = Field(gt=0, le=1, description="the probability the arm was drawn with (after the floor)")
    policy_id: str
    version: str
    probabilities: dict[str, float] = Field(description="every arm's probability, after the floor")
    decided_at: str = Field(description="UTC, YYYY-MM-DD HH:MM:SS.ffffff")
    context_source: Literal["request", "latest_logged_decision"]
    served_as: ServedAs = Field(description="active version, declared fallback (the gate kept the logging "
                                            "policy), or a version requested by name")
    served_reason: str | None = Field(description="why a version other than the active one is served (null "
                                                  "for the active version); /healthz has the long form")
    context_flags: list[str] = Field(description="unknown_key:<key> / unknown_value:<field>: decided with the "
                                                 "encoder's unknown bucket")


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
    served_as: ServedAs | None = None
    arms: list[str] = []
    reason: str | None = Field(None, description="why nothing is served, or why the fallback is")
    floor: float
    shadow_policy_id: str | None = None
    known_customers: int = 0
    decisions_logged: int = 0
    decision_log_dir: str
    log_batches: int = Field(0, description="decision-log write + fsync batches since the start (group commit)")
    log_batched_decisions: int = Field(0, description="decisions written in those batches")


def _error_message(errors) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        msg = e.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _count_decisions(warehouse_path: Path, table: str) -> int | None:
    """Decisions in ``table`` (0 when the table is missing); ``None`` when the warehouse cannot be read."""
    import duckdb

    try:
        with read_only(warehouse_path) as con:
            return int(con.execute(f"select count(*) from {table}").fetchone()[0])
    except duckdb.CatalogException:
        return 0
    except duckdb.Error:
        return None


def _load_policy(warehouse_path: Path, policy_id, ledger_table: str):
    """(policy, reason) or (None, reason): the reason is what /decide and /healthz answer with (for a
    served fallback, why it is served)."""
    import duckdb

    from retail_lift.bandit.publish import NoServablePolicyError, load_published_policy

    if not warehouse_path.exists():
        return None, f"no warehouse at {warehouse_path}: run the build first (make build), or pass --warehouse"
    try:
        policy = load_published_policy(warehouse_path, policy_id)
        return policy, policy.reason
    except NoServablePolicyError as e:
        reason = f"{e} (the API: start it with --policy-id NAME to serve a named candidate)"
    except LookupError as e:
        reason = str(e)
    except duckdb.Error as e:
        reason = f"cannot read the published policies from {warehouse_path}: {str(e).splitlines()[0]}"
    if policy_id is None and _count_decisions(warehouse_path, ledger_table) == 0:
        reason = (f"the warehouse {warehouse_path} holds no decisions ({ledger_table} is empty), so the build "
                  f"published no policy and no fallback. Add decisions and rebuild: a decisions table in the raw "
                  f"data (make build DATA=folder, see the raw-data contract), or a decision log merged with "
                  f"retail-lift ingest-decisions --data FOLDER --log-dir DIR, then make build")
    return None, reason


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


def _load_shadow(warehouse_path: Path, shadow: str, served):
    from retail_lift.bandit.publish import load_published_policy

    try:
        version = load_published_policy(warehouse_path, shadow)
    except Exception as e:  # noqa: BLE001 - re-raised with the option's name
        raise ValueError(f"shadow: cannot load policy {shadow!r} from {warehouse_path}: {e}") from None
    if served is not None and list(version.arms) != list(served.arms):
        raise ValueError(f"shadow: policy {shadow!r} has arms {version.arms}, the served version {served.arms}")
    return version


def _label(version) -> str:
    """``<policy_id>_<version>``: how the decision log's ``policy_id`` column names a version."""
    return f"{version.policy_id}_{version.version}"


class Decider:
    """The decision code path of ``POST /decide`` without HTTP: the served version scores one context
    (exploration floor applied before the draw, the shadow version scored beside it), and the log
    record and the answer are built. The endpoint logs the record (group commit) before answering.

    ``decide(customer_id, ctx, extra_keys, source, now)``: ``ctx`` is the context dict (``hour``
    filled with ``now``'s hour when missing), ``extra_keys`` the keys the :class:`Context` model does
    not know (flagged, kept in the logged context). Returns ``(record, answer)``.
    """

    def __init__(self, policy, *, floor: float, rng: np.random.Generator, shadow=None):
        self.policy = policy
        self.floor = floor
        self.rng = rng
        self.shadow = shadow
        self.label = _label(policy)
        self.served_reason = {
            "active": None,
            "fallback": "the off-policy gate kept the logging policy, which the API cannot serve: "
                        "serving the build's declared fallback (the logging policy's arm shares)",
            "requested": "requested by name (--policy-id)"}[policy.served_as]
        self.shadow_label = None if shadow is None else _label(shadow)

    def flags(self, ctx: dict, extra_keys) -> list[str]:
        """``unknown_key:<key>`` for every key the policies do not know, ``unknown_value:<field>`` for
        every categorical value the served encoder never saw (both decided with the unknown bucket)."""
        flags = [f"unknown_key:{k}" for k in sorted(extra_keys)]
        flags += [f"unknown_value:{f}" for f in self.policy.encoder.unseen_values_one(ctx)]
        return flags

    def decide(self, customer_id: str | None, ctx: dict, extra_keys=(), source: str = "request",
               now=None) -> tuple[dict, dict]:
        now = utc_now() if now is None else now
        if ctx.get("hour") is None:
            ctx["hour"] = now.hour
        out = self.policy.decide(ctx, rng=self.rng, floor=self.floor)
        probabilities = dict(zip(self.policy.arms, map(float, out["probabilities"].values()), strict=True))
        flags = self.flags(ctx, extra_keys)
        record = {
            "decision_id": f"api_{uuid.uuid4().hex}",
            "customer_id": customer_id,
            "decided_at": format_timestamp(now),
            "policy_id": self.label,
            "promotion_id": out["arm"],
            "propensity": float(out["propensity"]),
            "action_probabilities": json.dumps(probabilities, separators=_COMPACT),
            "context": json.dumps(ctx, separators=_COMPACT),
            "served_as": self.policy.served_as,
            "floor": self.floor,
            "context_flags": flags,
        }
        if self.shadow is not None:
            shadow_p = self.shadow.probabilities_one(ctx, self.floor)
            record["shadow_policy_id"] = self.shadow_label
            record["shadow_action_probabilities"] = json.dumps(
                dict(zip(self.shadow.arms, shadow_p.tolist(), strict=True)), separators=_COMPACT)
        answer = {
            "decision_id": record["decision_id"], "customer_id": customer_id, "arm": out["arm"],
            "propensity": record["propensity"], "policy_id": self.policy.policy_id, "version": self.policy.version,
            "probabilities": probabilities, "decided_at": record["decided_at"], "context_source": source,
            "served_as": self.policy.served_as, "served_reason": self.served_reason, "context_flags": flags}
        return record, answer


def _invalid_response(errors, prefix: tuple = ()) -> JSONResponse:
    """422 with FastAPI's ``detail`` list and a one-line ``message`` (``body.context.hour: ...``)."""
    errors = [{**{k: v for k, v in e.items() if k in ("type", "msg", "input")}, "loc": (*prefix, *e.get("loc", ()))}
              for e in errors]
    return JSONResponse(status_code=422, content=jsonable_encoder(
        {"message": f"invalid request: {_error_message(errors)}", "detail": errors}))


class _DecideFastPath:
    """ASGI middleware that serves ``POST /decide`` itself: the body is validated with
    ``DecideRequest.model_validate_json`` (the same model, the same 422 messages, locations under
    ``body``) and handed to the same handler as the FastAPI route, without FastAPI's routing and
    dependency machinery (about a third of the server's CPU per decision). Everything else goes on to
    the FastAPI app."""

    def __init__(self, app, handler):
        self.app = app
        self.handler = handler

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/decide" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            req = DecideRequest.model_validate_json(b"".join(chunks))
        except ValidationError as e:
            response = _invalid_response(e.errors(include_url=False), ("body",))
        else:
            response = await self.handler(req)
        return await response(scope, receive, send)


def _json_response(status: int, body: dict) -> Response:
    return Response(content=json.dumps(body, separators=_COMPACT), status_code=status, media_type="application/json")


def create_app(warehouse_path: str | Path, decision_log_dir: str | Path, *, policy_id: str | None = None,
               seed: int | None = None, ledger_table: str = LEDGER_TABLE, floor: float = DEFAULT_FLOOR,
               shadow: str | None = None) -> FastAPI:
    """The decision API over the warehouse's published policy (see the module docstring).

    ``policy_id``: serve this version instead of the active one (or its fallback). ``seed``: seed of
    the arm draws (default: fresh entropy). ``floor``: the exploration floor per arm
    (``floor * arms <= 1``, else ``ValueError`` naming ``floor``). ``shadow``: a version to score
    beside the served one, logged, never served (``ValueError`` naming ``shadow`` when it cannot be
    loaded). The policies and the customers' latest contexts are read once, here, with short
    read-only connections.
    """
    warehouse_path = Path(warehouse_path)
    policy, reason = _load_policy(warehouse_path, policy_id, ledger_table)
    floor = check_floor(floor, len(policy.arms) if policy is not None else 1)
    shadow_policy = None if shadow is None else _load_shadow(warehouse_path, shadow, policy)
    shadow_label = None if shadow_policy is None else _label(shadow_policy)
    contexts = _load_contexts(warehouse_path, ledger_table)
    decisions_log = JsonLinesLog(decision_log_dir, DECISIONS_PREFIX)
    outcomes_log = JsonLinesLog(decision_log_dir, OUTCOMES_PREFIX)
    unmatched_log = JsonLinesLog(decision_log_dir, UNMATCHED_OUTCOMES_PREFIX)
    known, _ = read_jsonl(decisions_log.files())
    known_ids = {str(r["decision_id"]) for r in known if r.get("decision_id")}
    rng = np.random.default_rng(seed)  # used on the event loop only (async endpoints)
    decider = None if policy is None else Decider(policy, floor=floor, rng=rng, shadow=shadow_policy)

    app = FastAPI(
        title="Retail Lift decision API",
        version="1",
        description="Chooses a promotion for a customer with the warehouse's published policy (or its declared "
                    "fallback) and logs every decision (raw-data contract `decisions` columns) for the next build.",
    )
    app.state.policy = policy
    app.state.policy_error = reason if policy is None else None
    app.state.served_reason = reason
    app.state.shadow = shadow_policy
    app.state.decider = decider
    app.state.floor = floor
    app.state.warehouse_path = warehouse_path
    app.state.decision_log = decisions_log
    app.state.outcome_log = outcomes_log
    app.state.unmatched_outcome_log = unmatched_log

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return _invalid_response(exc.errors())

    def _fail(status: int, message: str):
        return _json_response(status, {"message": message, "detail": message})

    @app.post("/decide", response_model=DecideResponse,
              responses={404: {"description": "customer_id has no logged context and no context was given"},
                         503: {"description": "nothing to serve: no warehouse, or no decisions in it"}})
    async def decide(req: DecideRequest):
        """Declared for the OpenAPI schema and FastAPI's validation; requests reach it only when the
        fast path (:class:`_DecideFastPath`, same validation, same handler) is not in front."""
        return await _decide(req)

    async def _decide(req: DecideRequest):
        if decider is None:
            return _fail(503, f"no policy to serve: {reason}")
        if req.context is not None:
            ctx = req.context.model_dump(exclude_unset=True)  # an explicit null stays (never ordered)
            extra = req.context.model_extra or ()
            source = "request"
        elif req.customer_id in contexts:
            ctx = json.loads(contexts[req.customer_id])
            extra = [k for k in ctx if k not in Context.model_fields]
            source = "latest_logged_decision"
        else:
            return _fail(404, f"customer {req.customer_id!r} has no logged decision context in {ledger_table}; "
                              f"send a context object")
        now = utc_now()
        try:
            record, answer = decider.decide(req.customer_id, ctx, extra, source, now)
        except (ValueError, TypeError) as e:
            return _fail(422, f"invalid request: the policy cannot score this context: {e}")
        await decisions_log.commit(record, now)  # durable before we answer
        known_ids.add(record["decision_id"])
        return _json_response(200, answer)

    app.add_middleware(_DecideFastPath, handler=_decide)

    @app.post("/outcome", response_model=OutcomeResponse,
              responses={404: {"description": "decision_id was not logged by this API (the outcome is kept in "
                                              "unmatched-outcomes-YYYY-MM-DD.jsonl)"}})
    async def outcome(req: OutcomeRequest):
        now = utc_now()
        record = {**req.model_dump(), "recorded_at": format_timestamp(now)}
        if req.decision_id not in known_ids:
            path = await unmatched_log.commit(record, now)
            return _fail(404, f"decision {req.decision_id!r} was not logged by this API (log folder "
                              f"{decisions_log.folder}); the outcome is kept apart in {path.name}")
        await outcomes_log.commit(record, now)
        return _json_response(200, {"decision_id": req.decision_id, "recorded_at": record["recorded_at"]})

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    async def healthz():
        body = Health(status="ok" if policy is not None else "no_policy", policy_loaded=policy is not None,
                      policy_id=None if policy is None else policy.policy_id,
                      version=None if policy is None else policy.version,
                      created_at=None if policy is None else str(policy.created_at),
                      served_as=None if policy is None else policy.served_as,
                      arms=[] if policy is None else list(policy.arms), reason=reason, floor=floor,
                      shadow_policy_id=shadow_label, known_customers=len(contexts),
                      decisions_logged=len(known_ids), decision_log_dir=str(decisions_log.folder),
                      log_batches=decisions_log.batches, log_batched_decisions=decisions_log.committed)
        if policy is None:
            return JSONResponse(status_code=503, content=body.model_dump())
        return body

    return app
