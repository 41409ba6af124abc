"""``create_control_app()``: the scoring routes of :func:`modelyard.web.app.create_app`
plus the admin API under ``/api/v1`` (``modelyard up`` serves it with the Studio, see
:mod:`modelyard.ui.app`).

request -> LimitsMiddleware -> /api/v1/...       AdminGuard (Host, Origin, admin key) -> SDK
                            -> /endpoints/..., /v2/...   the scoring replica's own routes
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from modelyard.config.serve import ServeOptions
from modelyard.errors import ConfigError
from modelyard.web.admin.guard import AdminGuard
from modelyard.web.admin.router import PREFIX, admin_router
from modelyard.web.app import create_app
from modelyard.workspace.root import Workspace

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
    guard = AdminGuard(ws.people, (limits.host, *limits.allowed_hosts, *hosts))
    app.include_router(admin_router(ws, guard))
    app.state.admin_guard = guard  # the Studio (modelyard.ui) checks Host and Origin with it
    # Host, Origin and key from the headers, before FastAPI reads and parses any body
    app.state.admission.admin(PREFIX, guard.check)
    return app
