"""What every Studio route shares: the workspace, the sessions, the visitor of a page, and
the one way a form is handled (session, origin, CSRF and role checked first; a refused or
failed action rendered as a page with the error, and nothing changed)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from modelyard.errors import ModelyardError
from modelyard.types import Action
from modelyard.ui.render import page
from modelyard.ui.session import PREFIX, Sessions, Visitor
from modelyard.web.errors import status_of
from modelyard.workspace.root import Workspace

FormHandler = Callable[[Visitor, FormData], Awaitable[Response] | Response]


class LoginNeeded(Exception):
    """A page was asked for without a live session: answered by a redirect to the login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def to_login(request: Request, exc: Exception) -> Response:
    """The answer to :class:`LoginNeeded`: 303 to the login page, back here afterwards (for
    an htmx request, ``HX-Redirect``, so that the whole page goes there)."""
    path = exc.path if isinstance(exc, LoginNeeded) else PREFIX
    login = f"{PREFIX}/login?next={quote(path)}"
    if request.headers.get("hx-request"):  # a live part polling: the whole page goes
        return Response(status_code=204, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


class Flash:
    """Secrets shown once (a new key, a new token): a form stores one and redirects to a
    page naming it by a random id; the first read of that page takes it, so a reload shows
    nothing and resubmits nothing. Only the session that stored it can take it."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self._ttl_s = ttl_s
        self._items: dict[str, tuple[float, str, Mapping[str, str]]] = {}
        self._lock = threading.Lock()

    def put(self, visitor: Visitor, payload: Mapping[str, str]) -> str:
        """Keep ``payload`` for ``visitor``'s next page; returns its id."""
        flash_id, now = secrets.token_urlsafe(16), time.monotonic()
        with self._lock:
            for key in [k for k, item in self._items.items() if item[0] < now]:
                del self._items[key]
            self._items[flash_id] = (now + self._ttl_s, visitor.csrf, dict(payload))
        return flash_id

    def take(self, visitor: Visitor, flash_id: str | None) -> Mapping[str, str] | None:
        """The payload stored under ``flash_id`` by this visitor's session, once."""
        if not flash_id:
            return None
        with self._lock:
            item = self._items.get(flash_id)
            if item is None or item[1] != visitor.csrf or item[0] < time.monotonic():
                return None
            del self._items[flash_id]
        return item[2]


class Studio:
    """The workspace and sessions the pages run on."""

    def __init__(self, ws: Workspace, sessions: Sessions) -> None:
        self.ws = ws
        self.sessions = sessions
        self.flash = Flash()

    def seen(self, request: Request) -> Visitor:
        """The page's visitor (a FastAPI dependency); raises :class:`LoginNeeded`."""
        visitor = self.sessions.visitor(request)
        if visitor is None:
            raise LoginNeeded(request.url.path)
        return visitor

    async def form(
        self, request: Request, action: Action, what: str, handle: FormHandler
    ) -> Response:
        """Run ``handle`` for a form allowed ``action`` (a refusal raises, and
        :class:`StudioRoute` renders it)."""
        visitor = await self.sessions.acting(request, action, what)
        answer = handle(visitor, await request.form())
        return await answer if isinstance(answer, Awaitable) else answer

    def error(self, request: Request, exc: ModelyardError) -> HTMLResponse:
        """The page of a refused or failed action (only its message for an htmx request,
        which swaps it in where the answer was to go)."""
        try:
            visitor = self.sessions.visitor(request)
        except ModelyardError:
            visitor = None
        template = "error_fragment.html" if request.headers.get("hx-request") else "error.html"
        return page(request, template, visitor, status=status_of(exc), error=exc)

    def show(
        self, request: Request, template: str, visitor: Visitor, **context: Any
    ) -> HTMLResponse:
        """Render a page for ``visitor``."""
        return page(request, template, visitor, **context)


class StudioRoute(APIRoute):
    """A Studio route: a refusal or a failure (any ``ModelyardError``) is an HTML page that
    says what went wrong, with the error table's HTTP status, and nothing changed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ModelyardError as exc:
                studio: Studio = request.app.state.studio
                return studio.error(request, exc)

        return route


def pages_router(prefix: str = "") -> APIRouter:
    """A router of Studio pages under ``/studio`` + ``prefix`` (kept out of /docs)."""
    return APIRouter(prefix=PREFIX + prefix, include_in_schema=False, route_class=StudioRoute)


def seen(request: Request) -> Visitor:
    """The visitor of a page (a FastAPI dependency); raises :class:`LoginNeeded`."""
    studio: Studio = request.app.state.studio
    return studio.seen(request)


Seen = Annotated[Visitor, Depends(seen)]
"""A page's visitor, for route signatures: ``def page(request: Request, visitor: Seen)``."""
