"""The admin HTTP API under ``/api/v1``: thin routes over the SDK, every one behind
:class:`~modelyard.web.admin.guard.AdminGuard` (admin key, own Host, own Origin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from modelyard.web.admin import endpoints, models, monitoring, people, runs, schedules, trainings
from modelyard.web.admin.guard import AdminGuard
from modelyard.workspace import Workspace

PREFIX = "/api/v1"

__all__ = ["PREFIX", "AdminGuard", "admin_router"]


def admin_router(ws: Workspace, guard: AdminGuard) -> APIRouter:
    """Every admin route, with the guard as a router-level dependency: deny by default."""
    api = APIRouter(prefix=PREFIX, dependencies=[Depends(guard.dependency)])
    for module in (trainings, runs, models, endpoints, schedules, people, monitoring):
        api.include_router(module.router(ws))
    return api
