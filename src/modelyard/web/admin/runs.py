"""``/api/v1/runs``: follow a run's state, read its logs, cancel it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from modelyard.types import Action
from modelyard.web.admin.guard import requires
from modelyard.web.admin.views import run_view
from modelyard.workspace.root import Workspace


def router(ws: Workspace) -> APIRouter:
    """List, show, logs and cancel."""
    api = APIRouter(prefix="/runs", tags=["runs"])

    @api.get("")
    def list_runs(
        request: Request,
        training: Annotated[str | None, Query(description="Only this training's runs.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        """The newest runs first."""
        listed = ws.runs.list(training, limit=limit, logs=False)  # logs_url has them
        return [run_view(request, run) for run in listed]

    @api.get("/{run_id}", name="show_run")
    def show_run(run_id: str, request: Request) -> dict[str, Any]:
        """One run: state, stages, metrics, version, promotion decision, error."""
        return run_view(request, ws.runs.get(run_id))

    @api.get("/{run_id}/logs", response_class=PlainTextResponse)
    def run_logs(run_id: str) -> PlainTextResponse:
        """What the run printed: stages, the script's stdout and stderr, tracebacks."""
        return PlainTextResponse(ws.runs.get(run_id).logs)

    @api.post("/{run_id}/cancel", openapi_extra=requires(Action.TRAIN))
    def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
        """Cancel a queued run now, or a running one at its next stage (409 if it ended)."""
        return run_view(request, ws.runs.cancel(run_id))

    return api
