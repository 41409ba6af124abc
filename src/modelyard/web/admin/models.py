"""``/api/v1/models``: versions, promotion, rollback, approval and history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from modelyard.registry.records import Event
from modelyard.types import DEFAULT_ALIAS, Action
from modelyard.web.admin.guard import person_of, requires
from modelyard.web.admin.views import event_view, model_view, version_view
from modelyard.workspace.root import Workspace


class PromoteBody(BaseModel):
    """Which version the alias should point at, and why."""

    version: int = Field(ge=1)
    alias: str = DEFAULT_ALIAS
    reason: str = ""
    force: bool = Field(False, description="Promote despite a breaking signature change.")


class RollbackBody(BaseModel):
    """Which alias returns to its previous version, and why."""

    alias: str = DEFAULT_ALIAS
    reason: str = ""


class ApproveBody(BaseModel):
    """The pending version to approve (it becomes champion)."""

    version: int = Field(ge=1)


class RejectBody(BaseModel):
    """The pending version to reject (it can never be promoted), and why."""

    version: int = Field(ge=1)
    reason: str = ""


def moved(event: Event | None) -> dict[str, Any]:
    """The answer to a promotion: its event, or ``moved: false`` if nothing changed."""
    return {"moved": event is not None, "event": event_view(event) if event else None}


def router(ws: Workspace) -> APIRouter:
    """Read the registry; move aliases."""
    api = APIRouter(prefix="/models", tags=["models"])

    @api.get("")
    def list_models(
        include_archived: Annotated[bool, Query()] = False,
    ) -> list[dict[str, Any]]:
        """Every model with its latest version and aliases."""
        return [model_view(m) for m in ws.models.list(include_archived=include_archived)]

    @api.get("/{name}")
    def show_model(name: str) -> dict[str, Any]:
        """A model and its versions, oldest first."""
        model = model_view(ws.models.get_model(name))
        return {**model, "versions": [version_view(v) for v in ws.models.versions(name)]}

    @api.get("/{name}/versions/{version}")
    def show_version(name: str, version: int) -> dict[str, Any]:
        """One version: signature, metrics, lineage, aliases, status."""
        return version_view(ws.models.get(name, version=version))

    @api.post("/{name}/promote", openapi_extra=requires(Action.PROMOTE))
    def promote(name: str, body: PromoteBody, request: Request) -> dict[str, Any]:
        """Move an alias (``champion`` by default) to a version, with a recorded event."""
        event = ws.models.promote(
            name,
            body.version,
            alias=body.alias,
            reason=body.reason,
            force=body.force,
            actor=person_of(request).name,
        )
        return moved(event)

    @api.post("/{name}/rollback", openapi_extra=requires(Action.PROMOTE))
    def rollback(name: str, request: Request, body: RollbackBody | None = None) -> dict[str, Any]:
        """Return an alias to the version it held before."""
        body = body or RollbackBody()
        who = person_of(request).name
        return moved(ws.models.rollback(name, alias=body.alias, reason=body.reason, actor=who))

    @api.post("/{name}/approve", openapi_extra=requires(Action.PROMOTE))
    def approve(name: str, body: ApproveBody, request: Request) -> dict[str, Any]:
        """Approve a version held pending by ``require_approval``: it becomes champion
        (403 under ``four_eyes`` if you authored it)."""
        return moved(ws.models.approve(name, body.version, actor=person_of(request).name))

    @api.post("/{name}/reject", openapi_extra=requires(Action.PROMOTE))
    def reject(name: str, body: RejectBody, request: Request) -> dict[str, Any]:
        """Reject a version held pending by ``require_approval``; it is never promoted."""
        who = person_of(request).name
        ws.models.reject(name, body.version, reason=body.reason, actor=who)
        return version_view(ws.models.get(name, version=body.version))

    @api.get("/{name}/history")
    def history(
        name: str, alias: Annotated[str | None, Query(description="Only this alias.")] = None
    ) -> list[dict[str, Any]]:
        """The model's events, oldest first."""
        return [event_view(e) for e in ws.models.history(name, alias=alias)]

    return api
