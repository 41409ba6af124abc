"""``/api/v1/me``, ``/api/v1/users`` and ``/api/v1/audit``: who you are, your own tokens,
the users and their roles (admins), and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from modelyard.storage.audit import AuditEntry
from modelyard.storage.people import Token, User
from modelyard.types import Action, Role
from modelyard.web.admin.guard import person_of, requires
from modelyard.workspace.root import Workspace


class NewUser(BaseModel):
    """A person to add, with their role."""

    name: str
    role: Role = Role.VIEWER


class UserChange(BaseModel):
    """A new role, or disabling (their tokens and sessions stop working) or enabling."""

    role: Role | None = None
    disabled: bool | None = None


class NewToken(BaseModel):
    """What the token is for (``laptop``, ``ci``): shown in lists, never the token."""

    label: str = Field("", max_length=128)


def user_view(user: User) -> dict[str, Any]:
    """A user without secrets."""
    return {
        "name": user.name,
        "role": user.role.value,
        "disabled": user.disabled,
        "created_by": user.created_by,
        "created_at": user.created_at,
    }


def token_view(token: Token, secret: str | None = None) -> dict[str, Any]:
    """A token's record; ``token`` itself only in the answer that issued it."""
    view: dict[str, Any] = {
        "id": token.id,
        "user": token.user,
        "label": token.label,
        "active": token.active,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }
    if secret is not None:
        view["token"] = secret
    return view


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry."""
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": dict(entry.details),
        "created_at": entry.created_at,
    }


def router(ws: Workspace) -> APIRouter:
    """Me, users, tokens and the audit log."""
    api = APIRouter(tags=["people"])
    own = requires(Action.READ)  # anyone manages their own tokens
    admin = requires(Action.ADMIN)

    @api.get("/me")
    def me(request: Request) -> dict[str, Any]:
        """The person the key or token belongs to, and their role."""
        person = person_of(request)
        return {"name": person.name, "role": person.role.value}

    @api.get("/me/tokens")
    def my_tokens(request: Request) -> list[dict[str, Any]]:
        """Your personal tokens (never the tokens themselves)."""
        return [token_view(t) for t in ws.people.tokens(person_of(request).name)]

    @api.post("/me/tokens", status_code=status.HTTP_201_CREATED, openapi_extra=own)
    def issue_mine(body: NewToken, request: Request) -> dict[str, Any]:
        """A new personal token, in this answer only."""
        who = person_of(request).name
        token, secret = ws.people.issue_token(who, body.label, actor=who)
        return token_view(token, secret)

    @api.post("/me/tokens/{token_id}/revoke", openapi_extra=own)
    def revoke_mine(token_id: str, request: Request) -> dict[str, Any]:
        """Revoke one of your tokens: it opens nothing from now on."""
        who = person_of(request).name
        return token_view(ws.people.revoke_token(who, token_id, actor=who))

    @api.get("/users", openapi_extra=admin)
    def list_users() -> list[dict[str, Any]]:
        """Every user with their role."""
        return [user_view(u) for u in ws.people.list()]

    @api.post("/users", status_code=status.HTTP_201_CREATED, openapi_extra=admin)
    def add_user(body: NewUser, request: Request) -> dict[str, Any]:
        """Add a user (then issue them a token)."""
        return user_view(ws.people.add(body.name, body.role, actor=person_of(request).name))

    @api.patch("/users/{name}", openapi_extra=admin)
    def change_user(name: str, body: UserChange, request: Request) -> dict[str, Any]:
        """Change a user's role, or disable or enable them."""
        who = person_of(request).name
        if body.role is not None:
            ws.people.set_role(name, body.role, actor=who)
        if body.disabled is not None:
            ws.people.set_disabled(name, body.disabled, actor=who)
        return user_view(ws.people.get(name))

    @api.post("/users/{name}/tokens", status_code=status.HTTP_201_CREATED, openapi_extra=admin)
    def issue_for(name: str, body: NewToken, request: Request) -> dict[str, Any]:
        """A new token for a user, in this answer only (hand it to them)."""
        token, secret = ws.people.issue_token(name, body.label, actor=person_of(request).name)
        return token_view(token, secret)

    @api.post("/users/{name}/tokens/{token_id}/revoke", openapi_extra=admin)
    def revoke_for(name: str, token_id: str, request: Request) -> dict[str, Any]:
        """Revoke one of a user's tokens."""
        return token_view(ws.people.revoke_token(name, token_id, actor=person_of(request).name))

    @api.get("/audit")
    def audit(limit: int = 100) -> list[dict[str, Any]]:
        """Who did what (key changes, schedules, users, tokens), newest first."""
        return [audit_view(e) for e in ws.people.history(limit=min(max(limit, 1), 1000))]

    return api
