"""Runs: trigger a training, the recent runs, and one run followed live (state, stages and
logs refreshed every second by htmx until the run ends; the page works without it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from modelyard.types import Action, RunState
from modelyard.ui.session import PREFIX, Visitor
from modelyard.ui.studio import Seen, Studio, pages_router

FINAL = {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}
LISTED = 50


def router(studio: Studio) -> APIRouter:
    """``/studio/runs``, ``/studio/runs/ID`` (and its live fragment), triggers and cancels."""
    api = pages_router()
    ws = studio.ws

    @api.get("/runs")
    def runs(request: Request, visitor: Seen, training: str | None = None) -> Response:
        trainings = [ws.trainings.get(name) for name in ws.trainings.list()]
        listed = ws.runs.list(training or None, limit=LISTED, logs=False)
        return studio.show(
            request,
            "runs.html",
            visitor,
            section="runs",
            trainings=trainings,
            runs=listed,
            training=training,
        )

    @api.get("/runs/{run_id}")
    def run(request: Request, run_id: str, visitor: Seen) -> Response:
        found = ws.runs.get(run_id)
        return studio.show(
            request, "run.html", visitor, section="runs", run=found, final=found.state in FINAL
        )

    @api.get("/runs/{run_id}/live")
    def live(request: Request, run_id: str, visitor: Seen) -> Response:
        found = ws.runs.get(run_id)
        return studio.show(request, "run_live.html", visitor, run=found, final=found.state in FINAL)

    @api.post("/trainings/{name}/run")
    async def trigger(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            queued, _ = ws.queue.trigger(name, trigger="studio", actor=visitor.person.name)
            return RedirectResponse(f"{PREFIX}/runs/{queued.id}", status_code=303)

        return await studio.form(request, Action.TRAIN, f"running training {name}", handle)

    @api.post("/runs/{run_id}/cancel")
    async def cancel(request: Request, run_id: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            ws.runs.cancel(run_id)
            return RedirectResponse(f"{PREFIX}/runs/{run_id}", status_code=303)

        return await studio.form(request, Action.TRAIN, f"cancelling run {run_id}", handle)

    return api
