"""Models: the list, one model's versions (metric chart, champion badge, promotion
ledger), and promote / roll back / approve / reject, each confirmed first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from modelyard.errors import InvalidInput
from modelyard.promotion import PromotionRule
from modelyard.registry.records import ModelVersion
from modelyard.types import DEFAULT_ALIAS, Action, EventKind
from modelyard.ui.charts import metric_chart
from modelyard.ui.session import Visitor
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.workspace.root import Workspace

MOVES = ("promote", "rollback", "approve", "reject")
LEDGER = {EventKind.PROMOTED, EventKind.ROLLED_BACK, EventKind.REJECTED, EventKind.ARCHIVED}


def gate_of(ws: Workspace, model: str) -> PromotionRule | None:
    """The promotion rule of the training that makes ``model`` (None if none does)."""
    for name in ws.trainings.list():
        spec = ws.trainings.get(name)
        if spec.model == model:
            return spec.promotion
    return None


def chart_metric(versions: list[ModelVersion], rule: PromotionRule | None) -> str | None:
    """The gate's metric, else the first metric any version recorded."""
    if rule is not None and rule.metric:
        return rule.metric
    return next((m for v in versions for m in v.metrics), None)


def model_context(ws: Workspace, name: str) -> dict[str, Any]:
    """What the model page shows."""
    model = ws.models.get_model(name)
    versions = ws.models.versions(name)
    rule = gate_of(ws, name)
    metric = chart_metric(versions, rule)
    champion = model.aliases.get(DEFAULT_ALIAS)
    points = (
        [(v.version, float(v.metrics[metric])) for v in versions if metric in v.metrics]
        if metric
        else []
    )
    events = [e for e in reversed(ws.models.history(name)) if e.kind in LEDGER]
    return {
        "model": model,
        "versions": list(reversed(versions)),
        "rule": rule,
        "metric": metric,
        "metric_names": sorted({m for v in versions for m in v.metrics}),
        "champion": champion,
        "chart": metric_chart(f"{metric} across versions of {name}", points, champion)
        if metric
        else None,
        "ledger": events,
    }


def _version(form: FormData) -> int:
    try:
        return int(str(form.get("version", "")))
    except ValueError:
        raise InvalidInput("the form names no version", code="invalid_form") from None


def router(studio: Studio) -> APIRouter:
    """``/studio/models``, ``/studio/models/NAME`` and its confirmed moves."""
    api = pages_router("/models")
    ws = studio.ws

    @api.get("")
    def models(request: Request, visitor: Seen) -> Response:
        listed = ws.models.list()
        return studio.show(request, "models.html", visitor, section="models", models=listed)

    @api.get("/{name}")
    def model(request: Request, name: str, visitor: Seen) -> Response:
        return studio.show(
            request, "model.html", visitor, section="models", **model_context(ws, name)
        )

    @api.get("/{name}/confirm")
    def confirm(
        request: Request,
        name: str,
        visitor: Seen,
        do: Annotated[str, Query(pattern="^(promote|rollback|approve|reject)$")],
        version: int | None = None,
    ) -> Response:
        model = ws.models.get_model(name)
        target = ws.models.get(name, version=version) if version is not None else None
        return studio.show(
            request,
            "confirm.html",
            visitor,
            section="models",
            model=model,
            do=do,
            target=target,
            champion=model.aliases.get(DEFAULT_ALIAS),
            four_eyes=version is not None and ws.models.four_eyes(name, version),
        )

    def moved(request: Request, visitor: Visitor, name: str, notice: str) -> Response:
        context = model_context(ws, name)
        return studio.show(
            request, "model.html", visitor, section="models", notice=notice, **context
        )

    @api.post("/{name}/promote")
    async def promote(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            version = _version(form)
            ws.models.promote(
                name,
                version,
                reason=str(form.get("reason", "")),
                force=form.get("force") == "on",
                actor=visitor.person.name,
            )
            return moved(request, visitor, name, f"{name}:{version} is champion")

        return await studio.form(request, Action.PROMOTE, f"promoting {name}", handle)

    @api.post("/{name}/rollback")
    async def rollback(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            event = ws.models.rollback(
                name, reason=str(form.get("reason", "")), actor=visitor.person.name
            )
            return moved(request, visitor, name, f"{name}:{event.to_version} is champion again")

        return await studio.form(request, Action.PROMOTE, f"rolling back {name}", handle)

    @api.post("/{name}/approve")
    async def approve(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            version = _version(form)
            ws.models.approve(name, version, actor=visitor.person.name)
            return moved(request, visitor, name, f"{name}:{version} approved: it is champion")

        return await studio.form(request, Action.PROMOTE, f"approving {name}", handle)

    @api.post("/{name}/reject")
    async def reject(request: Request, name: str) -> Response:
        def handle(visitor: Visitor, form: FormData) -> Response:
            version = _version(form)
            reason = str(form.get("reason", ""))
            ws.models.reject(name, version, reason=reason, actor=visitor.person.name)
            return moved(request, visitor, name, f"{name}:{version} rejected")

        return await studio.form(request, Action.PROMOTE, f"rejecting {name}", handle)

    return api
