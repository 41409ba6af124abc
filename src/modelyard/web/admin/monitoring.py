"""``/api/v1``'s monitoring routes: an endpoint's report, its feedback, the events feed,
and this server's collection counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from modelyard.monitoring.collector import collection_counters
from modelyard.types import Action
from modelyard.web.admin.guard import requires
from modelyard.web.admin.views import MAX_ID
from modelyard.workspace.root import Workspace


class LabelItem(BaseModel):
    """The true value of one scored row."""

    request_id: str = Field(description="The x-request-id of the scoring request.")
    row: int = Field(
        0, ge=0, le=2**31 - 1, description="The row's position in a request of several rows."
    )
    label: float | int | str | bool = Field(description="The true value.")


class Feedback(BaseModel):
    """True values of scored rows."""

    labels: list[LabelItem]


def router(ws: Workspace) -> APIRouter:
    """Monitoring reports, feedback, events."""
    api = APIRouter(tags=["monitoring"])

    @api.get("/endpoints/{name}/monitoring")
    def monitoring_report(
        name: str,
        window: Annotated[str | None, Query(description="Span, e.g. 1h or 1d.")] = None,
        since: Annotated[datetime | None, Query(description="Start (ISO 8601, UTC).")] = None,
        until: Annotated[datetime | None, Query(description="End (ISO 8601, UTC).")] = None,
        timeline: bool = True,
    ) -> dict[str, Any]:
        """Drift per feature and of the prediction, measured and estimated performance,
        latency and error rate, over the span and as a timeline (aggregates only)."""
        report = ws.monitoring.report(
            name, window=window, since=_utc(since), until=_utc(until), timeline=timeline
        )
        return report.to_dict()

    @api.post("/endpoints/{name}/feedback", openapi_extra=requires(Action.TRAIN))
    def feedback(name: str, body: Feedback) -> dict[str, int]:
        """Store the true values of scored rows, named by request id (and row)."""
        return ws.monitoring.feedback(name, [item.model_dump() for item in body.labels])

    @api.get("/events")
    def events(
        after: Annotated[int, Query(ge=0, le=MAX_ID, description="Events after this id.")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kind: Annotated[list[str] | None, Query(description="Only these kinds.")] = None,
    ) -> list[dict[str, Any]]:
        """Registry, run and monitoring events, oldest first: page with ``after``."""
        return [e.to_dict() for e in ws.monitoring.events(after=after, limit=limit, kinds=kind)]

    @api.get("/collection")
    def collection() -> dict[str, int]:
        """This server's collection counters (rows written, buffered, dropped)."""
        return collection_counters()

    return api


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
