"""The admin router: every ``/api/v1`` route module behind the guard."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from modelyard.web.admin import (
    batch,
    endpoints,
    models,
    monitoring,
    people,
    runs,
    schedules,
    trainings,
)
from modelyard.web.admin.guard import AdminGuard
from modelyard.workspace.root import Workspace

PREFIX = "/api/v1"


def admin_router(ws: Workspace, guard: AdminGuard) -> APIRouter:
    """Every admin route, with the guard as a router-level dependency: deny by default."""
    api = APIRouter(prefix=PREFIX, dependencies=[Depends(guard.dependency)])
    for module in (trainings, runs, models, endpoints, schedules, people, monitoring, batch):
        api.include_router(module.router(ws))
    return api
