"""The decision page of a model: champion vs challenger side by side (metric deltas,
input-signature diff, package diff, data lineage, shadow comparison and drift where they
exist) with the buttons that go through the same gate as the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard.errors import AliasNotFound, ConfigError
from modelyard.monitoring.metrics import get_metric
from modelyard.registry.records import ModelVersion
from modelyard.types import SignatureDiff, VersionStatus
from modelyard.ui.pages.models import gate_of
from modelyard.ui.studio import Seen, Studio, pages_router
from modelyard.workspace.root import Workspace

LINEAGE = ("training", "source", "query", "table", "rows", "data_fingerprint", "code_hash")


@dataclass(frozen=True)
class MetricRow:
    """One metric of both versions, and whether the challenger does better."""

    name: str
    champion: float | None
    challenger: float | None
    delta: float | None
    better: bool | None


def metric_rows(champion: ModelVersion | None, challenger: ModelVersion) -> list[MetricRow]:
    """Every metric either version has, with the challenger's delta."""
    mine = dict(champion.metrics) if champion else {}
    rows = []
    for name in sorted({*mine, *challenger.metrics}):
        old, new = mine.get(name), challenger.metrics.get(name)
        delta = None if old is None or new is None else new - old
        try:
            higher = get_metric(name).higher_is_better
        except ConfigError:  # a metric logged by a script: direction unknown
            higher = None
        better = None if delta is None or higher is None or delta == 0 else (delta > 0) == higher
        rows.append(MetricRow(name, old, new, delta, better))
    return rows


def package_rows(
    champion: ModelVersion | None, challenger: ModelVersion
) -> list[tuple[str, Any, Any]]:
    """(package, champion's version, challenger's version) for every package either used."""
    old = dict((champion.lineage.get("packages") or {}) if champion else {})
    new = dict(challenger.lineage.get("packages") or {})
    return [(p, old.get(p), new.get(p)) for p in sorted({*old, *new})]


def pick_challenger(
    versions: list[ModelVersion], champion: int | None, wanted: int | None
) -> ModelVersion | None:
    """The version asked for; else the newest pending one; else the newest other ready one."""
    if wanted is not None:
        return next((v for v in versions if v.version == wanted), None)
    newest = list(reversed(versions))
    pending = [v for v in newest if v.status is VersionStatus.PENDING_APPROVAL]
    ready = [v for v in newest if v.status is VersionStatus.READY and v.version != champion]
    found = pending or ready
    return found[0] if found else None


def decision_context(ws: Workspace, name: str, wanted: int | None) -> dict[str, Any]:
    """What the decision page shows."""
    model = ws.models.get_model(name)
    try:
        champion: ModelVersion | None = ws.models.get(name)
    except AliasNotFound:
        champion = None
    versions = ws.models.versions(name)
    challenger = pick_challenger(versions, champion.version if champion else None, wanted)
    rule = gate_of(ws, name)
    diff: SignatureDiff | None = None
    if champion and challenger and champion.signature and challenger.signature:
        diff = champion.signature.diff(challenger.signature)
    return {
        "model": model,
        "champion": champion,
        "challenger": challenger,
        "others": [v.version for v in reversed(versions)],
        "metrics": metric_rows(champion, challenger) if challenger else [],
        "diff": diff,
        "packages": package_rows(champion, challenger) if challenger else [],
        "lineage_keys": LINEAGE,
        "rule": rule,
        "gate_sign": _sign(rule.metric) if rule and rule.metric else "",
        "four_eyes": challenger is not None and ws.models.four_eyes(name, challenger.version),
    }


def router(studio: Studio) -> APIRouter:
    """``/studio/models/NAME/decision``."""
    api = pages_router("/models")

    @api.get("/{name}/decision")
    def decision(
        request: Request, name: str, visitor: Seen, challenger: int | None = None
    ) -> Response:
        context = decision_context(studio.ws, name, challenger)
        return studio.show(request, "decision.html", visitor, section="models", **context)

    return api


def _sign(metric: str) -> str:
    try:
        return "\u2265" if get_metric(metric).higher_is_better else "\u2264"
    except ConfigError:
        return ""
