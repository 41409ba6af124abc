"""``/api/v1/schedules``: when each scheduled training fires next; pause and resume."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from modelyard.errors import NotFound
from modelyard.storage.schedules import Schedule
from modelyard.types import Action
from modelyard.web.admin.guard import person_of, requires
from modelyard.web.admin.trainings import known_training
from modelyard.web.admin.views import schedule_view
from modelyard.workspace.root import Workspace


def _schedule(ws: Workspace, training: str) -> Schedule:
    found = next((s for s in ws.queue.schedules.list() if s.training == training), None)
    if found is None:
        raise NotFound(f"training {training!r} has no schedule", training=training)
    return found


def router(ws: Workspace) -> APIRouter:
    """List, pause, resume."""
    api = APIRouter(prefix="/schedules", tags=["schedules"])

    @api.get("")
    def list_schedules() -> list[dict[str, Any]]:
        """Every stored schedule with its next fire time (UTC)."""
        return [schedule_view(s) for s in ws.queue.schedules.list()]

    @api.post("/{training}/pause", openapi_extra=requires(Action.TRAIN))
    def pause(training: str, request: Request) -> dict[str, Any]:
        """Stop firing until resumed (a run in progress goes on)."""
        known_training(ws, training)
        ws.queue.set_paused(training, True, actor=person_of(request).name)
        return schedule_view(_schedule(ws, training))

    @api.post("/{training}/resume", openapi_extra=requires(Action.TRAIN))
    def resume(training: str, request: Request) -> dict[str, Any]:
        """Fire again from the next due time (missed fires coalesce into one)."""
        known_training(ws, training)
        ws.queue.set_paused(training, False, actor=person_of(request).name)
        return schedule_view(_schedule(ws, training))

    return api
