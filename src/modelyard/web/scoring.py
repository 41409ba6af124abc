"""Data-plane routes: ``/endpoints/E/score``, health, swagger. Thin: decode, score, encode."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelyardError, ScoringTimeout, Unauthorized
from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation, sampled
from modelyard.serving.batcher import MicroBatcher
from modelyard.serving.protocols.common import ARROW, CSV, JSON, PARQUET, dumps, jsonable, require
from modelyard.serving.protocols.tabular import decode_body_columns
from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Scored, Scorer
from modelyard.serving.swagger import openapi
from modelyard.storage.endpoints import EndpointRecord
from modelyard.storage.schema import utcnow
from modelyard.types import Signature
from modelyard.web.auth import check_score_key, keys_required
from modelyard.web.entry import ScriptProxy
from modelyard.web.errors import status_of

TABULAR = (JSON, CSV, PARQUET, ARROW)
INLINE_ROWS = 32  # up to this many rows, a compiled scorer runs on the event loop
Decoded = pd.DataFrame | Mapping[str, Any]  # a frame, or checked numpy columns by name


def version_headers(scored: Scored) -> dict[str, str]:
    """``x-model-version`` (the number) and ``x-model-name`` of the version that answered."""
    return {"x-model-version": str(scored.version.version), "x-model-name": scored.version.name}


async def score_with(
    request: Request,
    runtime: Runtime,
    name: str,
    *,
    admin_key: Secret | None,
    require_keys: bool,
    limits: ServeOptions,
    decode: Callable[[bytes, Signature | None], Decoded],
) -> Scored:
    """Authenticate, decode the body against the serving signature, score: off the loop,
    or on it for a few rows and a compiled scorer (tens of microseconds, less than the
    hand-off to a thread would cost)."""
    record, scorer = runtime.endpoint(name)
    check_score_key(
        request, record, admin_key, required=keys_required(record, require_keys, limits)
    )
    body = await request.body()
    return await score_decoded(
        runtime,
        record,
        scorer,
        lambda: decode(body, scorer.signature),
        request_id=request.headers.get("x-request-id", ""),
        timeout_s=limits.timeout_s,
    )


async def score_decoded(
    runtime: Runtime,
    record: EndpointRecord,
    scorer: Scorer,
    decode: Callable[[], Decoded],
    *,
    request_id: str,
    timeout_s: float,
) -> Scored:
    """Decode and score one request of a model endpoint (micro-batched if it asks), then
    hand the exchange to the collector (refused ones too: they make the error rate)."""
    started = time.perf_counter()
    frame: Decoded | None = None
    try:
        frame = decode()
        scored = await _timed(scorer, runtime.batcher(record.name), frame, timeout_s)
    except ModelyardError as error:
        collect_scored(runtime.collector, record, scorer, request_id, started, frame, None, error)
        raise
    collect_scored(runtime.collector, record, scorer, request_id, started, frame, scored, None)
    return scored


# -- collection (issue 15) ------------------------------------------------------------------
# The one place where a model endpoint's exchange reaches the collector, and the one for an
# entry script's (below). When the data plane's pipeline lands (serving/dataplane.py, issue
# 14), both move into its after-answer hook, as one Exchange -> Observation adapter.


def collect_scored(
    collector: Collector | None,
    record: EndpointRecord,
    scorer: Scorer,
    request_id: str,
    started: float,
    frame: Decoded | None,
    scored: Scored | None,
    error: ModelyardError | None,
) -> None:
    """Offer a model endpoint's request to the collector, if the endpoint collects (and
    this request is sampled); never blocks."""
    if collector is None or not record.collect or not sampled(record.sampling_rate):
        return
    current = scorer.current
    version = scored.version if scored is not None else (current.version if current else None)
    collector.offer(
        _observed(
            record,
            request_id,
            started,
            source="model",
            status=200 if error is None else status_of(error),
            model=version.name if version else scorer.target.name,
            version=version.version if version else None,
            alias=scorer.target.alias,
            inputs=frame if error is None else None,
            outputs=scored.predictions if scored is not None else None,
            classes=scored.classes if scored is not None else None,
            error_code=error.code if error is not None else None,
        )
    )


def collect_script(
    collector: Collector | None,
    record: EndpointRecord,
    request_id: str,
    started: float,
    status: int,
) -> None:
    """Offer an entry-script endpoint's answered request (its status and latency; its
    rows come from the script's own ``ModelDataCollector``)."""
    if collector is None or not record.collect or not sampled(record.sampling_rate):
        return
    collector.offer(_observed(record, request_id, started, source="script", status=status))


def _observed(
    record: EndpointRecord, request_id: str, started: float, **fields: Any
) -> Observation:
    """The observation of a request answered now, begun at ``started`` (perf counter)."""
    latency_ms = (time.perf_counter() - started) * 1000
    return Observation(record.name, request_id, utcnow(), latency_ms=latency_ms, **fields)


# -------------------------------------------------------------------------------------------


async def _timed(
    scorer: Scorer, batcher: MicroBatcher | None, frame: Decoded, timeout_s: float
) -> Scored:
    if batcher is not None:
        return await timed(batcher.submit(_as_frame(frame, scorer.signature)), timeout_s)
    return await score_now(scorer, frame, timeout_s)


async def score_now(scorer: Scorer, frame: Decoded, timeout_s: float) -> Scored:
    """Score on the event loop for a few rows and a compiled scorer (tens of microseconds,
    less than the hand-off to a thread), else in a worker thread under ``timeout_s``."""
    current = scorer.current
    if current is not None and current.compiled is not None and _rows(frame) <= INLINE_ROWS:
        return scorer.score(frame)
    return await timed(run_in_threadpool(scorer.score, frame), timeout_s)


async def timed(scoring: Awaitable[Scored], timeout_s: float) -> Scored:
    """Await ``scoring``; 504 (``ScoringTimeout``) past ``timeout_s``."""
    try:
        with anyio.fail_after(timeout_s):
            return await scoring
    except TimeoutError:
        raise ScoringTimeout(f"the model took longer than {timeout_s:g} s") from None


def _rows(frame: Decoded) -> int:
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    return len(next(iter(frame.values()), ()))


def _as_frame(frame: Decoded, signature: Signature | None) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    names = signature.names if signature is not None else list(frame)
    return pd.DataFrame({name: frame[name] for name in names}, columns=names)


@dataclass(frozen=True)
class Scoring:
    """What every data-plane route needs to score: the runtime and the server's key and
    limit settings, bound once per router."""

    runtime: Runtime
    admin_key: Secret | None
    require_keys: bool
    limits: ServeOptions

    async def score(
        self,
        request: Request,
        name: str,
        decode: Callable[[bytes, Signature | None], Decoded],
    ) -> Scored:
        """:func:`score_with` for endpoint ``name``."""
        return await score_with(
            request,
            self.runtime,
            name,
            admin_key=self.admin_key,
            require_keys=self.require_keys,
            limits=self.limits,
            decode=decode,
        )


def router(
    runtime: Runtime, admin_key: Secret | None, require_keys: bool, limits: ServeOptions
) -> APIRouter:
    """The Azure ML v1-style routes of every endpoint."""
    api = APIRouter(tags=["scoring"])
    scoring = Scoring(runtime, admin_key, require_keys, limits)
    proxy = ScriptProxy(limits)

    async def to_script(request: Request, name: str, route: str) -> Response | None:
        """Forward to the entry-script workers of ``name``; None for a model endpoint.

        Every method but OPTIONS needs the key: browsers send CORS preflights without
        one. A keyless OPTIONS goes on marked anonymous, and the worker answers it with
        CORS headers and an empty body without calling ``run()`` (a ``@rawhttp``
        script's ``run()`` gets OPTIONS, as under azmlinfsrv, only from a caller with
        the key).
        """
        deployment = runtime.script(name)
        if deployment is None:
            return None
        record = runtime.record(name)
        required = keys_required(record, require_keys, limits)
        try:
            check_score_key(request, record, admin_key, required=required)
        except Unauthorized:
            if request.method != "OPTIONS":
                raise
            return await proxy.forward(request, deployment, route, anonymous=True)
        started = time.perf_counter()
        answer = await proxy.forward(request, deployment, route)
        if route == "score" and request.method in ("GET", "POST"):
            rid = request.headers.get("x-request-id", "")
            collect_script(runtime.collector, record, rid, started, answer.status_code)
        return answer

    @api.options("/endpoints/{name}/score", include_in_schema=False)
    @api.options("/endpoints/{name}/", include_in_schema=False)
    async def preflight(name: str, request: Request) -> Response:
        """OPTIONS (a CORS preflight) for an entry script, without the key; a model
        endpoint has no OPTIONS route (the server's ``cors_origins`` answers preflights)."""
        route = "score" if request.url.path.endswith("/score") else "health"
        forwarded = await to_script(request, name, route)
        if forwarded is not None:
            return forwarded
        message = "OPTIONS is answered for entry-script endpoints only"
        return JSONResponse({"code": "method_not_allowed", "message": message}, status_code=405)

    @api.post("/endpoints/{name}/score")
    async def score(name: str, request: Request) -> Response:
        forwarded = await to_script(request, name, "score")
        if forwarded is not None:
            return forwarded
        kind = require(request.headers.get("content-type"), TABULAR)
        scored = await scoring.score(
            request, name, lambda body, sig: decode_body_columns(body, kind, sig)
        )
        document: dict[str, Any] = {"predictions": jsonable(scored.predictions)}
        if scored.classes is not None:
            document["classes"] = scored.classes
        return Response(dumps(document), media_type=JSON, headers=version_headers(scored))

    @api.get("/endpoints/{name}/score", include_in_schema=False)
    async def score_get(name: str, request: Request) -> Response:
        """GET /score: entry scripts get the query string as JSON, as azmlinfsrv does."""
        forwarded = await to_script(request, name, "score")
        if forwarded is not None:
            return forwarded
        record, _ = runtime.endpoint(name)
        check_score_key(request, record, admin_key, required=require_keys)
        message = f"endpoint {name} serves a model: POST rows to /endpoints/{name}/score"
        return JSONResponse({"code": "method_not_allowed", "message": message}, status_code=405)

    @api.get("/endpoints/{name}/")
    @api.head("/endpoints/{name}/", include_in_schema=False)
    async def health(name: str, request: Request) -> Response:
        forwarded = await to_script(request, name, "health")
        if forwarded is not None:
            return forwarded
        record, scorer = runtime.endpoint(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current
        body = {
            "endpoint": name,
            "target": record.target,
            "healthy": current is not None,
            "version": current.version.version if current else None,
            "path": current.path if current else None,
            "error": scorer.last_error,
        }
        return JSONResponse(body, status_code=200 if current else 503)

    @api.get("/endpoints/{name}/swagger.json")
    async def swagger(name: str, request: Request) -> Response:
        deployment = runtime.script(name)
        if deployment is not None:  # the script's own swagger, public like the model's
            return await proxy.forward(request, deployment, "swagger")
        record, scorer = runtime.endpoint(name)
        current = scorer.current
        version = current.version.ref if current else record.target
        return JSONResponse(openapi(name, version, scorer.signature))

    return api
