"""``/api/v1/trainings``: the declared trainings, and starting a run over HTTP.

``POST /api/v1/trainings/NAME/runs`` queues a run for a worker and answers 202 at once
with the run id, and its status URL in ``Location``. An ``Idempotency-Key`` header makes
retries safe: the same key answers with the run it started the first time (202 again,
``Idempotent-Replayed: true``), however many requests race with it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, Field

from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.types import Action
from modelyard.web.admin.guard import person_of, requires
from modelyard.web.admin.views import run_view, training_view
from modelyard.workspace.root import Workspace

MAX_KEY = 200  # characters of an Idempotency-Key (the width of the stored column)


class TriggerBody(BaseModel):
    """What a triggered run may override."""

    params: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters.")


def known_training(ws: Workspace, name: str) -> None:
    """Raise ``NotFound`` unless ``name`` is declared in ``modelyard.toml``."""
    names = ws.trainings.list()
    if name not in names:
        declared = ", ".join(names) or "none"
        raise NotFound(f"no training named {name!r} (declared: {declared})", training=name)


def router(ws: Workspace) -> APIRouter:
    """List and show trainings; queue runs."""
    api = APIRouter(prefix="/trainings", tags=["trainings"])

    @api.get("")
    def list_trainings() -> list[dict[str, Any]]:
        """Every training declared in ``modelyard.toml``."""
        return [training_view(ws.trainings.get(name)) for name in ws.trainings.list()]

    @api.get("/{name}")
    def show_training(name: str, request: Request) -> dict[str, Any]:
        """One training, with its latest runs."""
        known_training(ws, name)
        view = training_view(ws.trainings.get(name))
        view["runs"] = [run_view(request, run) for run in ws.runs.list(name, limit=10)]
        return view

    @api.post(
        "/{name}/runs", status_code=status.HTTP_202_ACCEPTED, openapi_extra=requires(Action.TRAIN)
    )
    def trigger(
        name: str,
        request: Request,
        response: Response,
        body: TriggerBody | None = None,
        idempotency_key: Annotated[
            str | None,
            Header(description="Retries with the same key return the same run."),
        ] = None,
    ) -> dict[str, Any]:
        """Queue a run for a worker; follow ``status_url`` until its state is final."""
        known_training(ws, name)
        key = idempotency_key.strip() if idempotency_key is not None else None
        if key is not None and not 0 < len(key) <= MAX_KEY:
            raise InvalidInput(
                f"Idempotency-Key must have 1 to {MAX_KEY} characters", code="invalid_header"
            )
        params = body.params if body is not None else {}
        run, created = ws.queue.trigger(
            name, params=params, trigger="api", idempotency_key=key, actor=person_of(request).name
        )
        if not created and (run.training != name or dict(run.params) != params):
            raise Conflict(
                f"Idempotency-Key {key!r} was used for run {run.id} of training "
                f"{run.training} with params {dict(run.params)}: use a new key for another run",
                run_id=run.id,
            )
        view = run_view(request, run)
        response.headers["Location"] = view["status_url"]
        if not created:
            response.headers["Idempotent-Replayed"] = "true"
        return {
            "run_id": run.id,
            "status_url": view["status_url"],
            "logs_url": view["logs_url"],
            "state": view["state"],
            "created": created,
        }

    return api
