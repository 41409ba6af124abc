"""MLflow's scoring routes: ``/endpoints/E/invocations``, ``/ping``, ``/health``, ``/version``;
or the same four at the root for one endpoint, for MLflow's own ``ScoringServerClient``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard import __version__
from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelUnavailable
from modelyard.serving.protocols import mlflow
from modelyard.serving.protocols.common import JSON, dumps
from modelyard.serving.runtime import Runtime
from modelyard.web.auth import check_score_key
from modelyard.web.scoring import Scoring, version_headers
from modelyard.web.shaped import shaped_route

Handler = Callable[[str, Request], Awaitable[Response]]


def router(
    runtime: Runtime,
    admin_key: Secret | None,
    require_keys: bool,
    limits: ServeOptions,
    *,
    endpoint: str | None = None,
) -> APIRouter:
    """The routes under ``/endpoints/{name}/`` for every endpoint, or, with ``endpoint``,
    at the root for that endpoint alone."""
    api = APIRouter(tags=["mlflow"], route_class=shaped_route(mlflow.error_body))
    scoring = Scoring(runtime, admin_key, require_keys, limits)

    async def invocations(name: str, request: Request) -> Response:
        kind = mlflow.content_kind(request.headers.get("content-type"))
        scored = await scoring.score(
            request, name, lambda body, signature: mlflow.decode(body, kind, signature)
        )
        return Response(
            dumps(mlflow.encode(scored.predictions)),
            media_type=JSON,
            headers=version_headers(scored),
        )

    async def ping(name: str, request: Request) -> Response:
        record, scorer = runtime.endpoint(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current
        if current is None:
            raise ModelUnavailable(
                f"endpoint {name} has no model loaded"
                + (f": {scorer.last_error}" if scorer.last_error else "")
            )
        return Response(
            mlflow.PING_BODY,
            media_type=JSON,
            headers={"x-model-version": str(current.version.version)},
        )

    async def version(name: str, request: Request) -> Response:
        record, scorer = runtime.endpoint(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current
        headers = {"x-model-version": str(current.version.version)} if current else {}
        return Response(__version__, media_type=JSON, headers=headers)

    routes: list[tuple[str, Handler, str]] = [
        ("/invocations", invocations, "POST"),
        ("/ping", ping, "GET"),
        ("/health", ping, "GET"),
        ("/version", version, "GET"),
    ]
    for path, handler, method in routes:
        if endpoint is None:
            api.add_api_route(f"/endpoints/{{name}}{path}", handler, methods=[method])
        else:
            api.add_api_route(path, _bound(handler, endpoint), methods=[method])
    return api


def _bound(handler: Handler, name: str) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        return await handler(name, request)

    return route
