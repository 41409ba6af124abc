"""Schedules and jobs (next fires, pause and resume; batch jobs), and monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from modelyard.types import Action
from modelyard.ui.session import Visitor
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.web.admin.trainings import known_training


def router(studio: Studio) -> APIRouter:
    """``/studio/schedules`` (with pause and resume) and ``/studio/monitoring``."""
    api = pages_router()
    ws = studio.ws

    def schedules_page(request: Request, visitor: Visitor, notice: str | None = None) -> Response:
        return studio.show(
            request,
            "schedules.html",
            visitor,
            section="schedules",
            schedules=ws.queue.schedules.list(),
            batch_jobs=ws.batch.list(limit=50),
            notice=notice,
        )

    @api.get("/schedules")
    def schedules(request: Request, visitor: Seen) -> Response:
        return schedules_page(request, visitor)

    def pausing(paused: bool) -> object:
        async def route(request: Request, training: str) -> Response:
            def handle(visitor: Visitor, form: FormData) -> Response:
                known_training(ws, training)
                ws.queue.set_paused(training, paused, actor=visitor.person.name)
                state = "paused" if paused else "resumed"
                return schedules_page(request, visitor, f"schedule of {training} {state}")

            what = f"{'pausing' if paused else 'resuming'} the schedule of {training}"
            return await studio.form(request, Action.TRAIN, what, handle)

        return route

    api.add_api_route("/schedules/{training}/pause", pausing(True), methods=["POST"])  # type: ignore[arg-type]
    api.add_api_route("/schedules/{training}/resume", pausing(False), methods=["POST"])  # type: ignore[arg-type]

    @api.get("/monitoring")
    def monitoring(request: Request, visitor: Seen) -> Response:
        return studio.show(
            request,
            "monitoring.html",
            visitor,
            section="monitoring",
            endpoints=ws.endpoints.list(),
        )

    return api
