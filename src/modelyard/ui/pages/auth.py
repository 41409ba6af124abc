"""Login (admin key or personal token), logout, and ``/`` leading to the Studio."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from modelyard.errors import ModelyardError
from modelyard.types import Action
from modelyard.ui.render import page
from modelyard.ui.session import PREFIX
from modelyard.ui.studio import Studio, StudioRoute
from modelyard.web.errors import status_of


def _safe_next(target: str) -> str:
    """Only a path of the Studio itself (no open redirect)."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/models"


def router(studio: Studio) -> APIRouter:
    """``/``, ``/studio``, ``/studio/login``, ``/studio/logout``."""
    api = APIRouter(include_in_schema=False, route_class=StudioRoute)

    @api.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/models", status_code=303)

    @api.get(PREFIX)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/models", status_code=303)

    @api.get(f"{PREFIX}/login")
    def login_form(request: Request, next: str = "") -> Response:
        studio.sessions.guard.check_host(request)
        return page(request, "login.html", None, next=_safe_next(next))

    @api.post(f"{PREFIX}/login")
    def login(
        request: Request,
        key: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        answer: Response = RedirectResponse(_safe_next(next), status_code=303)
        try:
            studio.sessions.guard.check_host(request)
            studio.sessions.guard.check_origin(request)
            studio.sessions.login(key, answer, secure=request.url.scheme == "https")
        except ModelyardError as exc:
            return page(request, "login.html", None, status=status_of(exc), error=exc, next=next)
        return answer

    @api.post(f"{PREFIX}/logout")
    async def logout(request: Request) -> Response:
        answer: Response = RedirectResponse(f"{PREFIX}/login", status_code=303)

        async def end(*_: object) -> Response:
            studio.sessions.logout(request, answer)
            return answer

        return await studio.form(request, Action.READ, "logging out", end)

    return api
