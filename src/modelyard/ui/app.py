"""``create_studio_app()``: what ``modelyard up`` serves, the control app (admin API and
every endpoint's scoring routes) with the Studio at ``/`` and ``/studio``.

/studio/...   Sessions (cookie, CSRF, Host, Origin, role) -> pages over the SDK
/api/v1/...   AdminGuard (admin key or personal token, role)  -> the admin API
/endpoints/..., /v2/...                                       -> the scoring routes
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from modelyard.config.serve import ServeOptions
from modelyard.errors import ConfigError
from modelyard.ui.pages import auth, decision, endpoints, models, operations, people, runs, sources
from modelyard.ui.session import PREFIX, Sessions
from modelyard.ui.studio import LoginNeeded, Studio, to_login
from modelyard.web.admin.app import NO_ADMIN_KEY, create_control_app
from modelyard.web.admin.guard import AdminGuard
from modelyard.web.app import with_grpc
from modelyard.web.lifecycle import DrainMiddleware, drain_on_sigterm
from modelyard.workspace.root import Workspace

STATIC = Path(__file__).parent / "static"
PAGES = (auth, models, decision, runs, endpoints, sources, operations, people)


def install_studio(app: FastAPI, ws: Workspace) -> None:
    """Add the Studio's pages and static files to ``app``, a control app of
    :func:`create_control_app` (whose admin guard checks the pages' Host and Origin)."""
    if not ws.settings.admin_key:
        raise ConfigError(NO_ADMIN_KEY)
    guard: AdminGuard = app.state.admin_guard
    studio = Studio(ws, Sessions(ws.people, ws.settings.admin_key, guard))
    app.state.studio = studio
    app.state.admission.open(PREFIX)  # its login is keyless: no in-flight slot, read deadline
    app.add_exception_handler(LoginNeeded, to_login)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="studio-static")
    for module in PAGES:
        app.include_router(module.router(studio))


def create_studio_app(
    ws: Workspace,
    *,
    limits: ServeOptions | None = None,
    hosts: Iterable[str] = (),
    follow_interval: float = 1.0,
) -> FastAPI:
    """The control app with the Studio; the pages answer to the same Host names as the
    admin API."""
    app = create_control_app(ws, limits=limits, hosts=hosts, follow_interval=follow_interval)
    install_studio(app, ws)
    return app


def control_app_from_environment() -> DrainMiddleware:
    """The app of ``modelyard up``, configured by ``ServeOptions.to_env``, stopping
    gracefully on SIGTERM."""
    options = ServeOptions.from_env()
    ws = Workspace.from_config(options.root or None)
    app = with_grpc(create_studio_app(ws, limits=options), ws, options)
    return drain_on_sigterm(app, options.drain_s)
