"""Sources: the declared data sources, and a preview of a query (its first rows and
per-column statistics with histograms), the seed's "Visualize". The query runs wrapped
in ``SELECT * FROM (…) LIMIT``, so only a SELECT can run and never more rows than shown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from modelyard.config.secret import redact_url
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.monitoring.profile import profile_frame
from modelyard.types import Action
from modelyard.ui.charts import histogram
from modelyard.ui.session import Visitor
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.workspace.root import Workspace

PREVIEW_ROWS = 1000  # rows read for the statistics
SHOWN_ROWS = 20  # rows shown


def declared(ws: Workspace) -> list[dict[str, str]]:
    """Every source with where it points (passwords redacted)."""
    found = []
    for name, spec in sorted(ws.settings.sources.items()):
        where = str(spec.get("url") or spec.get("path") or "")
        found.append({"name": name, "where": redact_url(where)})
    return found


def default_query(ws: Workspace, source: str | None) -> str:
    """The query of the first training reading ``source`` (what people preview first)."""
    for name in ws.trainings.list():
        spec = ws.trainings.get(name)
        if spec.source == source:
            return spec.query or f"SELECT * FROM {spec.table}"  # noqa: S608 (declared table)
    return ""


def preview(ws: Workspace, source: str, query: str) -> dict[str, Any]:
    """The first rows and column statistics of ``query`` on ``source``."""
    text = query.strip().rstrip(";")
    if not text:
        raise InvalidInput("write a SELECT query to preview", code="invalid_form")
    spec = ws.settings.sources.get(source, {})
    if "path" in spec:  # a CSV or Parquet file: read it whole, then cut
        frame = ws.sources.read(source).head(PREVIEW_ROWS)
    else:
        # the scientist's own query, by design; the wrapper admits only a SELECT
        wrapped = f"SELECT * FROM ({text}) modelyard_preview LIMIT {PREVIEW_ROWS}"  # noqa: S608
        frame = ws.sources.read(source, wrapped)
    profile = profile_frame(frame)
    columns = []
    for name, stats in profile["features"].items():
        chart = None
        if stats["kind"] == "numeric" and stats.get("counts"):
            chart = histogram(f"Histogram of {name}", stats["edges"], stats["counts"])
        columns.append(
            {"name": name, "dtype": str(frame[name].dtype), "stats": stats, "chart": chart}
        )
    head = frame.head(SHOWN_ROWS)
    return {
        "rows": len(frame),
        "capped": len(frame) >= PREVIEW_ROWS,
        "columns": columns,
        "head_columns": [str(c) for c in head.columns],
        "head_rows": head.astype(object).where(head.notna(), None).to_numpy().tolist(),
    }


def router(studio: Studio) -> APIRouter:
    """``/studio/sources`` and its preview form."""
    api = pages_router("/sources")
    ws = studio.ws

    @api.get("")
    def sources(request: Request, visitor: Seen, source: str | None = None) -> Response:
        listed = declared(ws)
        chosen = source or (listed[0]["name"] if listed else None)
        return studio.show(
            request,
            "sources.html",
            visitor,
            section="sources",
            sources=listed,
            chosen=chosen,
            query=default_query(ws, chosen),
            limit=PREVIEW_ROWS,
        )

    @api.post("/preview")
    async def run_preview(request: Request) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            source, query = str(form.get("source", "")), str(form.get("query", ""))
            context: dict[str, Any] = {
                "sources": declared(ws),
                "chosen": source,
                "query": query,
                "limit": PREVIEW_ROWS,
            }
            try:
                context["preview"] = preview(ws, source, query)
            except ModelyardError as exc:
                context["error"] = exc
            return studio.show(request, "sources.html", visitor, section="sources", **context)

        return await studio.form(request, Action.TRAIN, "previewing a query", handle)

    return api
