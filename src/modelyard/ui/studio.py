"""What every Studio route shares: the workspace, the sessions, the visitor of a page, and
the one way a form is handled (session, origin, CSRF and role checked first; a refused or
failed action rendered as a page with the error, and nothing changed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from modelyard.errors import ModelyardError
from modelyard.types import Action
from modelyard.ui.render import page
from modelyard.ui.session import PREFIX, Sessions, Visitor
from modelyard.web.errors import status_of
from modelyard.workspace import Workspace

FormHandler = Callable[[Visitor, FormData], Awaitable[Response] | Response]


class LoginNeeded(Exception):
    """A page was asked for without a live session: answered by a redirect to the login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def to_login(request: Request, exc: Exception) -> Response:
    """The answer to :class:`LoginNeeded`: 303 to the login page, back here afterwards."""
    path = exc.path if isinstance(exc, LoginNeeded) else PREFIX
    return RedirectResponse(f"{PREFIX}/login?next={quote(path)}", status_code=303)


class Studio:
    """The workspace and sessions the pages run on."""

    def __init__(self, ws: Workspace, sessions: Sessions) -> None:
        self.ws = ws
        self.sessions = sessions

    def seen(self, request: Request) -> Visitor:
        """The page's visitor (a FastAPI dependency); raises :class:`LoginNeeded`."""
        visitor = self.sessions.visitor(request)
        if visitor is None:
            raise LoginNeeded(request.url.path)
        return visitor

    async def form(
        self, request: Request, action: Action, what: str, handle: FormHandler
    ) -> Response:
        """Run ``handle`` for a form allowed ``action``; any refusal or error is a page that
        says what went wrong, with the error's HTTP status."""
        try:
            visitor = await self.sessions.acting(request, action, what)
            answer = handle(visitor, await request.form())
            return await answer if isinstance(answer, Awaitable) else answer
        except ModelyardError as exc:
            return self.error(request, exc)

    def error(self, request: Request, exc: ModelyardError) -> HTMLResponse:
        """The page of a refused or failed action."""
        try:
            visitor = self.sessions.visitor(request)
        except ModelyardError:
            visitor = None
        return page(request, "error.html", visitor, status=status_of(exc), error=exc)

    def show(
        self, request: Request, template: str, visitor: Visitor, **context: Any
    ) -> HTMLResponse:
        """Render a page for ``visitor``."""
        return page(request, template, visitor, **context)


def seen(request: Request) -> Visitor:
    """The visitor of a page (a FastAPI dependency); raises :class:`LoginNeeded`."""
    studio: Studio = request.app.state.studio
    return studio.seen(request)


Seen = Annotated[Visitor, Depends(seen)]
"""A page's visitor, for route signatures: ``def page(request: Request, visitor: Seen)``."""
