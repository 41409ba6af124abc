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
from modelyard.serving.dataplane import DataPlane
from modelyard.serving.protocols import mlflow
from modelyard.serving.protocols.common import JSON
from modelyard.web.auth import check_score_key
from modelyard.web.scoring import through
from modelyard.web.shaped import shaped_route

Handler = Callable[[str, Request], Awaitable[Response]]


def router(
    plane: DataPlane,
    admin_key: Secret | None,
    require_keys: bool,
    limits: ServeOptions,
    *,
    endpoint: str | None = None,
) -> APIRouter:
    """The routes under ``/endpoints/{name}/`` for every endpoint, or, with ``endpoint``,
    at the root for that endpoint alone."""
    api = APIRouter(tags=["mlflow"], route_class=shaped_route(mlflow.error_body))
    runtime = plane.runtime

    async def invocations(name: str, request: Request) -> Response:
        return await through(plane, mlflow.CODEC, name, request)

    async def ping(name: str, request: Request) -> Response:
        record, scorer = runtime.lookup(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current if scorer is not None else None
        if current is None:
            error = scorer.last_error if scorer is not None else "loading"
            raise ModelUnavailable(
                f"endpoint {name} has no model loaded" + (f": {error}" if error else "")
            )
        return Response(
            mlflow.PING_BODY,
            media_type=JSON,
            headers={"x-model-version": str(current.version.version)},
        )

    async def version(name: str, request: Request) -> Response:
        record, scorer = runtime.lookup(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current if scorer is not None else None
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
