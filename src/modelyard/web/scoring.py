"""Azure ML v1-style routes: ``/endpoints/E/score``, health, swagger. Thin: a model
endpoint's request goes through the data plane's pipeline with the Azure ML codec; an
entry script's goes to its own processes."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import MethodNotAllowed, Unauthorized
from modelyard.serving.dataplane import DataPlane, Exchange
from modelyard.serving.protocols.azureml import CODEC
from modelyard.serving.protocols.codec import Codec, Head
from modelyard.serving.runtime import Runtime
from modelyard.serving.swagger import openapi
from modelyard.web.auth import check_score_key, keys_required, on_loopback
from modelyard.web.entry import ScriptProxy
from modelyard.web.errors import as_response


def head_of(request: Request) -> Head:
    """The data plane's view of a request before its body."""
    return Head(
        dict(request.headers),
        dict(request.query_params),
        request.path_params,
        loopback=on_loopback(request.scope),
    )


async def through(plane: DataPlane, codec: Codec, name: str, request: Request) -> Response:
    """Answer ``request`` to endpoint ``name`` through the pipeline, in ``codec``'s format."""
    answer = await plane.handle(
        name, codec, head_of(request), request.body, request.headers.get("x-request-id", "")
    )
    return as_response(answer)


def router(
    plane: DataPlane, admin_key: Secret | None, require_keys: bool, limits: ServeOptions
) -> APIRouter:
    """The Azure ML v1-style routes of every endpoint."""
    api = APIRouter(tags=["scoring"])
    runtime: Runtime = plane.runtime
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
        required = keys_required(record, require_keys, on_loopback(request.scope))
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
            exchange = Exchange(name, "script", rid, started, record, source="script")
            exchange.status = answer.status_code
            plane.finish_script(exchange)
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
        runtime.record(name)  # an unknown endpoint is a 404, whatever the method
        raise MethodNotAllowed("OPTIONS is answered for entry-script endpoints only")

    @api.post("/endpoints/{name}/score")
    async def score(name: str, request: Request) -> Response:
        forwarded = await to_script(request, name, "score")
        if forwarded is not None:
            return forwarded
        return await through(plane, CODEC, name, request)

    @api.post("/endpoints/{name}/versions/{version}/score")
    async def score_version(name: str, version: str, request: Request) -> Response:
        """Score on version ``version`` of the endpoint's model (loaded on first use)."""
        return await through(plane, CODEC, name, request)

    @api.get("/endpoints/{name}/score", include_in_schema=False)
    async def score_get(name: str, request: Request) -> Response:
        """GET /score: entry scripts get the query string as JSON, as azmlinfsrv does."""
        forwarded = await to_script(request, name, "score")
        if forwarded is not None:
            return forwarded
        record, _ = runtime.lookup(name)
        check_score_key(request, record, admin_key, required=require_keys)
        raise MethodNotAllowed(
            f"endpoint {name} serves a model: POST rows to /endpoints/{name}/score"
        )

    @api.get("/endpoints/{name}/")
    @api.head("/endpoints/{name}/", include_in_schema=False)
    async def health(name: str, request: Request) -> Response:
        forwarded = await to_script(request, name, "health")
        if forwarded is not None:
            return forwarded
        record, scorer = runtime.lookup(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current if scorer is not None else None
        body = {
            "endpoint": name,
            "target": record.target,
            "healthy": current is not None,
            "version": current.version.version if current else None,
            "path": current.path if current else None,
            "error": scorer.last_error if scorer is not None else "loading",
        }
        return JSONResponse(body, status_code=200 if current else 503)

    @api.get("/endpoints/{name}/swagger.json")
    async def swagger(name: str, request: Request) -> Response:
        deployment = runtime.script(name)
        if deployment is not None:  # the script's own swagger, public like the model's
            return await proxy.forward(request, deployment, "swagger")
        record, scorer = runtime.lookup(name)
        current = scorer.current if scorer is not None else None
        version = current.version.ref if current else record.target
        return JSONResponse(openapi(name, version, current.signature if current else None))

    return api
