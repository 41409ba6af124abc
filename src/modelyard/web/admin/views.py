"""The JSON the admin API answers with: one function per record, links made from the
request's own base URL (so they point at this server however it was reached)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from modelyard.registry.records import Event, Model, ModelVersion
from modelyard.storage.runs import Run
from modelyard.storage.schedules import Schedule
from modelyard.training.spec import TrainingSpec
from modelyard.workspace.endpoints import Endpoint

API = "/api/v1"
MAX_ID = 2**63 - 1  # the largest id SQL stores (BIGINT): a larger one cannot be compared


def url(request: Request, path: str) -> str:
    """The absolute URL of ``path`` (``/api/v1/runs/…``) on this server."""
    return str(request.base_url).rstrip("/") + path


def run_view(request: Request, run: Run) -> dict[str, Any]:
    """A run without its logs (``logs_url`` has them)."""
    return {
        "id": run.id,
        "training": run.training,
        "model": run.model,
        "state": run.state.value,
        "trigger": run.trigger,
        "actor": run.actor,
        "params": dict(run.params),
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_s": run.duration_s,
        "rows": run.rows,
        "stages": [dict(stage) for stage in run.stages],
        "metrics": dict(run.metrics),
        "version": run.version,
        "decision": run.decision.to_dict() if run.decision else None,
        "error": run.error,
        "reason": run.reason,
        "status_url": url(request, f"{API}/runs/{run.id}"),
        "logs_url": url(request, f"{API}/runs/{run.id}/logs"),
    }


def training_view(spec: TrainingSpec) -> dict[str, Any]:
    """What a training reads, fits and how it is promoted."""
    rule = spec.promotion
    return {
        "name": spec.name,
        "model": spec.model,
        "source": spec.source,
        "query": spec.query,
        "table": spec.table,
        "target": spec.target,
        "estimator": spec.estimator,
        "script": spec.script.name if spec.script else None,
        "params": dict(spec.params),
        "schedule": spec.schedule,
        "promotion": {
            "policy": rule.policy.value,
            "metric": rule.metric,
            "threshold": rule.threshold,
            "margin": rule.margin,
            "require_approval": rule.require_approval,
        },
    }


def model_view(model: Model) -> dict[str, Any]:
    """A model's name, latest version and aliases."""
    return {
        "name": model.name,
        "description": model.description,
        "archived": model.archived,
        "created_at": model.created_at,
        "latest_version": model.latest_version,
        "aliases": dict(model.aliases),
    }


def version_view(version: ModelVersion) -> dict[str, Any]:
    """Every field of a version but its training-data profile (``has_profile`` says if
    there is one)."""
    return {
        "name": version.name,
        "version": version.version,
        "ref": version.ref,
        "status": version.status.value,
        "aliases": list(version.aliases),
        "flavour": version.flavour.value,
        "format": version.format.value,
        "sha256": version.sha256,
        "size": version.size,
        "files": [entry.to_dict() for entry in version.manifest.files],
        "signature": version.signature.to_dict() if version.signature else None,
        "metrics": dict(version.metrics),
        "params": dict(version.params),
        "tags": dict(version.tags),
        "lineage": dict(version.lineage),
        "has_profile": version.profile is not None,
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at,
    }


def event_view(event: Event) -> dict[str, Any]:
    """One entry of a model's history."""
    return {
        "id": event.id,
        "model": event.model,
        "kind": event.kind.value,
        "alias": event.alias,
        "from_version": event.from_version,
        "to_version": event.to_version,
        "actor": event.actor,
        "reason": event.reason,
        "details": dict(event.details),
        "created_at": event.created_at,
    }


def endpoint_view(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint with its URIs on this server; ``keys`` only when just issued."""
    view: dict[str, Any] = {
        "name": endpoint.name,
        "target": endpoint.target,
        "state": endpoint.state,
        "state_reason": endpoint.state_reason,
        "kind": endpoint.kind,
        "models": list(endpoint.models),
        "auth_enabled": endpoint.auth_enabled,
        "collect": endpoint.collect,
        "sampling_rate": endpoint.sampling_rate,
        "output_names": list(endpoint.output_names),
        "traffic": dict(endpoint.traffic) if endpoint.traffic else None,
        "mirror": dict(endpoint.mirror) if endpoint.mirror else None,
        "comparison_url": url(request, f"{API}/endpoints/{endpoint.name}/comparison"),
        "monitoring_url": url(request, f"{API}/endpoints/{endpoint.name}/monitoring"),
        "logs_url": url(request, f"{API}/endpoints/{endpoint.name}/logs"),
        "scoring_uri": url(request, f"/endpoints/{endpoint.name}/score"),
        "swagger_uri": url(request, f"/endpoints/{endpoint.name}/swagger.json"),
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if endpoint.keys is not None:
        view["keys"] = dict(endpoint.keys)
    return view


def schedule_view(schedule: Schedule) -> dict[str, Any]:
    """A training's schedule and when it fires next."""
    return {
        "training": schedule.training,
        "schedule": schedule.spec,
        "paused": schedule.paused,
        "next_fire_at": schedule.next_fire_at,
        "last_fire_at": schedule.last_fire_at,
    }
