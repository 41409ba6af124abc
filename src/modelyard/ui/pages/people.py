"""People: your own tokens, and for admins the users, their roles and tokens, and the
audit log of who did what."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from modelyard.types import Action, Role
from modelyard.ui.session import PREFIX, Visitor
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.workspace.people import ADMIN

AUDIT_SHOWN = 50


def router(studio: Studio) -> APIRouter:
    """``/studio/people`` and its forms."""
    api = pages_router("/people")
    ws = studio.ws

    def people_page(request: Request, visitor: Visitor, **extra: Any) -> Response:
        me = visitor.person.name
        admin = visitor.may(Action.ADMIN)
        users = ws.people.list() if admin else []
        return studio.show(
            request,
            "people.html",
            visitor,
            section="people",
            own_tokens=ws.people.tokens(me) if me != ADMIN else None,
            users=users,
            tokens={u.name: ws.people.tokens(u.name) for u in users},
            roles=[r.value for r in Role],
            audit=ws.people.history(limit=AUDIT_SHOWN),
            **extra,
        )

    def issued(visitor: Visitor, user: str, secret: str) -> Response:
        shown = studio.flash.put(visitor, {"user": user, "token": secret})
        return RedirectResponse(f"{PREFIX}/people?shown={shown}", status_code=303)

    @api.get("")
    def people(request: Request, visitor: Seen, shown: str | None = None) -> Response:
        return people_page(request, visitor, new_token=studio.flash.take(visitor, shown))

    @api.post("/tokens")
    async def issue_mine(request: Request) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            me = visitor.person.name
            _, secret = ws.people.issue_token(me, str(form.get("label", "")), actor=me)
            return issued(visitor, me, secret)

        return await studio.form(request, Action.READ, "issuing yourself a token", handle)

    @api.post("/tokens/{token_id}/revoke")
    async def revoke_mine(request: Request, token_id: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            me = visitor.person.name
            ws.people.revoke_token(me, token_id, actor=me)
            return people_page(request, visitor, notice="token revoked")

        return await studio.form(request, Action.READ, "revoking your token", handle)

    @api.post("/users")
    async def add(request: Request) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            name = str(form.get("name", "")).strip()
            user = ws.people.add(name, str(form.get("role", "")), actor=visitor.person.name)
            return people_page(request, visitor, notice=f"{user.name} added as {user.role.value}")

        return await studio.form(request, Action.ADMIN, "adding a user", handle)

    @api.post("/users/{name}/role")
    async def set_role(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            user = ws.people.set_role(name, str(form.get("role", "")), actor=visitor.person.name)
            return people_page(request, visitor, notice=f"{name} is now {user.role.value}")

        return await studio.form(request, Action.ADMIN, f"changing the role of {name}", handle)

    @api.post("/users/{name}/tokens")
    async def issue_for(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            label = str(form.get("label", ""))
            _, secret = ws.people.issue_token(name, label, actor=visitor.person.name)
            return issued(visitor, name, secret)

        return await studio.form(request, Action.ADMIN, f"issuing a token to {name}", handle)

    @api.post("/users/{name}/tokens/{token_id}/revoke")
    async def revoke_for(request: Request, name: str, token_id: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            ws.people.revoke_token(name, token_id, actor=visitor.person.name)
            return people_page(request, visitor, notice=f"token of {name} revoked")

        return await studio.form(request, Action.ADMIN, f"revoking a token of {name}", handle)

    return api
