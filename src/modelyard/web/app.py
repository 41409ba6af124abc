"""``create_app()``: the whole request path of a scoring replica in one place.

request -> the scoring lane (web.lane, in the server's protocol): a model endpoint's request
           that needs no wait is answered from the same pipeline without what follows
        -> ScoringCors (only when ``[serve] cors_origins`` is set: preflights, CORS headers)
        -> LimitsMiddleware (request id; admission from the headers alone: health free,
           a body's key checked before it is read; in-flight cap; body size and deadline)
        -> FastScore (plain ASGI) or a FastAPI route: both hand a scoring request to the
           data plane's pipeline (``serving.dataplane``: resolve, key, media type, body,
           decode, route, score, encode, after hooks) with their wire format's codec
RequestMetrics (outside the limits) counts every scoring request for ``/metrics``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard import __version__
from modelyard.config.locations import STATE_DIR
from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.deployments.entry.manager import ScriptEndpoints
from modelyard.errors import NotReady
from modelyard.monitoring import tally
from modelyard.serving.collection import collection
from modelyard.serving.dataplane import DataPlane
from modelyard.serving.mirror import mirroring
from modelyard.serving.runtime import Runtime
from modelyard.storage.endpoints import EndpointStore
from modelyard.web import bes, bes_training, classic, errors, metrics, mlflow, scoring, v2
from modelyard.web.admission import Admission
from modelyard.web.auth import ScoreKeys
from modelyard.web.cors import ScoringCors
from modelyard.web.errors import TABLE, error_response
from modelyard.web.fast import FastScore
from modelyard.web.grpc_server import GrpcListener, Tls, grpc_server
from modelyard.web.lane import LANE, Lane
from modelyard.web.limits import LimitsMiddleware
from modelyard.web.metrics import RequestMetrics
from modelyard.workspace.root import Workspace


def create_app(
    ws: Workspace,
    *,
    endpoints: Iterable[str] | None = None,
    require_keys: bool = True,
    limits: ServeOptions | None = None,
    follow_interval: float = 1.0,
    fast_route: bool = True,
) -> FastAPI:
    """A scoring app for the workspace's endpoints (all, or only ``endpoints``);
    ``fast_route=False`` leaves every request to the FastAPI routes (the same pipeline
    behind them: the tests and ``bench/`` compare the two)."""
    limits = limits or ServeOptions()
    store = EndpointStore(ws.db)
    collector = ws.monitoring.collector(writer_process=True)
    intake = ws.monitoring.intake(collector)
    scripts = ScriptEndpoints(
        ws.registry,
        store,
        ws.environments.cache(),
        ws.settings.root / STATE_DIR / "endpoints",
        collect_address=intake.address,
    )
    runtime = Runtime(
        ws.registry,
        store,
        only=endpoints,
        interval=follow_interval,
        scripts=scripts,
        collector=collector,
        version_cache_bytes=int(ws.settings.version_cache_mb * 1024 * 1024),
    )
    plane = data_plane(runtime, ws.settings.admin_key, require_keys, limits)
    admission = Admission(runtime, ScoreKeys(ws.settings.admin_key, require_keys))
    app = _replica(
        runtime, limits, admission, plane if fast_route else None, ws.settings.cors_origins
    )
    app.state.intake = intake
    app.state.plane = plane  # the gRPC listener serves over the same pipeline
    app.include_router(metrics.router(ws.settings.admin_key, ws.settings.metrics_public))

    @app.get("/v2/health/live", tags=["health"])
    async def live() -> JSONResponse:
        return JSONResponse({"live": True})

    @app.get("/v2/health/ready", tags=["health"])
    async def ready() -> Response:
        waiting = runtime.unloaded() if runtime.ready else {}
        answer: dict[str, object] = {}
        if waiting:  # 503 until every endpoint is loaded, saying which is not and why
            answer["unloaded"] = waiting
        if runtime.degraded is not None:  # still ready: the loaded versions answer
            answer["degraded"] = runtime.degraded
        if runtime.ready and not waiting:
            return JSONResponse({"ready": True, **answer})
        # V2's document ({"ready": false}) inside the error table's {code, message}
        why = f"not loaded yet: {', '.join(sorted(waiting))}" if waiting else "still starting"
        return error_response(NotReady(f"the replica is not ready ({why})", ready=False, **answer))

    keys = (plane, ws.settings.admin_key, require_keys, limits)
    app.include_router(scoring.router(*keys))
    app.include_router(mlflow.router(*keys))
    app.include_router(classic.router(plane))
    app.include_router(bes.router(ws, ws.settings.admin_key, require_keys))
    app.include_router(bes_training.router(ws))
    app.include_router(v2.router(*keys))  # last: it answers any other /v2/... path
    return app


def data_plane(
    runtime: Runtime, admin_key: Secret | None, require_keys: bool, limits: ServeOptions
) -> DataPlane:
    """The pipeline of a replica: its key check, the one error table, the server's
    timeout, the route step of the runtime's router, the collection hook when the
    workspace collects and the mirror's."""
    plane = DataPlane(runtime, ScoreKeys(admin_key, require_keys), TABLE, limits.timeout_s)
    if runtime.collector is not None:
        plane.after.append(collection(runtime.collector))
    plane.after.append(mirroring(runtime.router, runtime.mirrors))
    return plane


def create_mlflow_app(
    ws: Workspace,
    endpoint: str,
    require_keys: bool = True,
    *,
    limits: ServeOptions | None = None,
    follow_interval: float = 1.0,
) -> FastAPI:
    """MLflow's ``/invocations``, ``/ping``, ``/health`` and ``/version`` at the root, for
    ``endpoint`` alone: what ``mlflow.pyfunc.scoring_server.client.ScoringServerClient``
    (which sends no key and no path prefix) can call."""
    limits = limits or ServeOptions()
    runtime = Runtime(
        ws.registry,
        EndpointStore(ws.db),
        only=[endpoint],
        interval=follow_interval,
        version_cache_bytes=int(ws.settings.version_cache_mb * 1024 * 1024),
    )
    admission = Admission(runtime, ScoreKeys(ws.settings.admin_key, require_keys), endpoint)
    app = _replica(runtime, limits, admission, cors=ws.settings.cors_origins)
    app.include_router(metrics.router(ws.settings.admin_key, ws.settings.metrics_public))
    plane = data_plane(runtime, ws.settings.admin_key, require_keys, limits)
    app.include_router(
        mlflow.router(plane, ws.settings.admin_key, require_keys, limits, endpoint=endpoint)
    )
    return app


def _replica(
    runtime: Runtime,
    limits: ServeOptions,
    admission: Admission,
    fast: DataPlane | None = None,
    cors: Sequence[str] = (),
) -> FastAPI:
    """An app that follows ``runtime`` while it serves, with the error handlers and limits
    (and, given the ``fast`` pipeline, the plain-ASGI scoring routes in front; given
    ``cors`` origins, CORS around it all)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime.collector is not None:
            runtime.collector.start()
        runtime.start()
        try:
            yield
        finally:
            runtime.ready = False
            tally.flush()  # the last requests' counts reach the metrics files
            runtime.stop()
            if runtime.collector is not None:
                runtime.collector.stop()  # what is buffered is written first
            intake = getattr(app.state, "intake", None)
            if intake is not None:
                intake.close()

    app = Replica(
        title="modelyard",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.admission = admission  # the control app adds the admin API's rule
    errors.install(app)
    front: ASGIApp = Framework(app)
    if fast is not None:
        front = FastScore(front, plane=fast, max_body_bytes=limits.max_body_bytes)
    front = checked = LimitsMiddleware(front, limits=limits, admission=admission)
    if fast is not None:  # the protocol answers what needs no wait (web.lane)
        app.lane = Lane.of(fast, admission, checked.slots, limits, bool(cors))
    front = RequestMetrics(front, serves=runtime.serves)  # counts refusals too
    if cors:  # outermost: preflights need no key, and refusals (413, 429) get CORS headers
        front = ScoringCors(front, origins=cors)
    app.front = front
    return app


class Replica(FastAPI):
    """A FastAPI app whose requests enter through ``front`` (CORS, metrics, limits, the
    fast scoring route), in front of the framework's own middleware rather than inside
    it: a scoring request answered by the fast route never enters the framework."""

    front: ASGIApp | None = None
    lane: Lane | None = None  # offered to the server's protocol in the lifespan state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to ``front`` (the framework itself until it is set)."""
        if scope["type"] == "lifespan" and self.lane is not None and "state" in scope:
            scope["state"][LANE] = self.lane
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)


class Framework:
    """The innermost layer of a replica's front: the FastAPI app itself."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Routing, dependencies, the routes and their error handlers."""
        await FastAPI.__call__(self.app, scope, receive, send)


def app_from_environment() -> ASGIApp:
    """The app of one ``modelyard serve`` worker, configured by ``ServeOptions.to_env``
    (with the gRPC listener beside it when ``grpc_port`` is set)."""
    options = ServeOptions.from_env()
    ws = Workspace.from_config(options.root or None)
    if options.mlflow_compat:
        return create_mlflow_app(ws, options.endpoints[0], options.require_keys, limits=options)
    app = create_app(
        ws,
        endpoints=options.endpoints or None,
        require_keys=options.require_keys,
        limits=options,
    )
    return with_grpc(app, ws, options)


def with_grpc(app: FastAPI, ws: Workspace, options: ServeOptions) -> ASGIApp:
    """``app`` (made by :func:`create_app`) with the gRPC listener beside it when
    ``options.grpc_port`` is set, over the app's own data plane, with ``[serve]`` TLS."""
    if not options.grpc_port:
        return app
    settings = ws.settings
    tls = (
        Tls(settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    )
    plane: DataPlane = app.state.plane

    def make_server() -> tuple[Any, int]:
        return grpc_server(plane, options, tls)

    return GrpcListener(app, make_server, grace_s=options.timeout_s)
