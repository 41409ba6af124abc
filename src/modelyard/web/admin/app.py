"""``create_control_app()``: what ``modelyard up`` serves, the scoring routes of
:func:`modelyard.web.app.create_app` plus the admin API under ``/api/v1``.

request -> LimitsMiddleware -> /api/v1/...       AdminGuard (Host, Origin, admin key) -> SDK
                            -> /endpoints/..., /v2/...   the scoring replica's own routes
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from modelyard.config import ServeOptions
from modelyard.errors import ConfigError
from modelyard.web.admin import AdminGuard, admin_router
from modelyard.web.app import create_app
from modelyard.web.lifecycle import DrainMiddleware, drain_on_sigterm
from modelyard.workspace import Workspace

NO_ADMIN_KEY = (
    "the control plane needs an admin key: export MODELYARD_ADMIN_KEY=$(python -c "
    "'import secrets; print(secrets.token_urlsafe(32))') or set admin_key under [security] "
    "in modelyard.toml"
)


def create_control_app(
    ws: Workspace,
    *,
    limits: ServeOptions | None = None,
    hosts: Iterable[str] = (),
    follow_interval: float = 1.0,
) -> FastAPI:
    """The scoring app of every endpoint with the admin API mounted beside it; the admin
    API answers to loopback names, ``limits.host``, ``limits.allowed_hosts`` and ``hosts``.
    Raises ``ConfigError`` if the workspace has no admin key."""
    if not ws.settings.admin_key:
        raise ConfigError(NO_ADMIN_KEY)
    limits = limits or ServeOptions()
    app = create_app(ws, require_keys=True, limits=limits, follow_interval=follow_interval)
    app.title = "modelyard control plane"
    guard = AdminGuard(ws.settings.admin_key, (limits.host, *limits.allowed_hosts, *hosts))
    app.include_router(admin_router(ws, guard))
    return app


def control_app_from_environment() -> DrainMiddleware:
    """The app of ``modelyard up``, configured by ``ServeOptions.to_env``, stopping
    gracefully on SIGTERM."""
    options = ServeOptions.from_env()
    ws = Workspace.from_config(options.root or None)
    return drain_on_sigterm(create_control_app(ws, limits=options), options.drain_s)
