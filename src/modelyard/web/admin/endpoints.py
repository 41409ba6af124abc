"""``/api/v1/endpoints``: create (keys shown once), list, show, retarget, delete, new keys,
logs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from modelyard.errors import InvalidInput
from modelyard.registry.records import ModelVersion
from modelyard.web.admin.guard import person_of
from modelyard.web.admin.snippets import example_row, snippets
from modelyard.web.admin.views import endpoint_view, url
from modelyard.workspace.root import Workspace


class EndpointCreate(BaseModel):
    """A new endpoint and the model reference it serves."""

    name: str = Field(description="Part of its URL: /endpoints/NAME/score.")
    model: str = Field(description="immo, immo@champion or immo:3.")
    collect: bool = Field(False, description="Write scored rows to the collection table.")
    sampling_rate: float = Field(1.0, ge=0, le=1, description="Share of requests collected.")
    description: str = ""
    batch_max_rows: int = Field(0, ge=0, description="Micro-batch up to this many rows (0: off).")
    batch_max_wait_ms: float = Field(2.0, ge=0)
    check_packages: bool = Field(
        True, description="Refuse versions trained with another scikit-learn/xgboost/numpy."
    )
    output_names: list[str] = Field(
        default_factory=list,
        description="Names of the outputs in every wire format that names them.",
    )


class EndpointUpdate(BaseModel):
    """What changes: the model reference served, the canary split, the mirror, and/or
    data collection."""

    model: str | None = Field(None, description="immo, immo@champion or immo:3.")
    traffic: dict[str, int] | None = Field(
        None,
        description='Weights by alias summing to 100, e.g. {"champion": 90, '
        '"challenger": 10}; {} turns the split off.',
    )
    mirror: dict[str, float] | None = Field(
        None,
        description="One alias and the percentage of requests also scored on it after "
        'answering, e.g. {"challenger": 20}; {} turns the mirror off.',
    )
    collect: bool | None = Field(None, description="Turn collection on or off.")
    sampling_rate: float | None = Field(None, ge=0, le=1, description="Share collected.")
    output_names: list[str] | None = Field(
        None, description="Names of the outputs; [] restores each wire format's defaults."
    )


class Regenerate(BaseModel):
    """Which key to replace."""

    slot: Literal["primary", "secondary"] = "primary"


def served_version(ws: Workspace, name: str) -> ModelVersion:
    """The version endpoint ``name`` serves now; ``InvalidInput`` for an entry-script
    endpoint or a version without a signature (nothing to build requests from)."""
    endpoint = ws.endpoints.get(name)
    if endpoint.kind == "script":
        raise InvalidInput(
            f"endpoint {name} runs an entry script: its run() decides what it takes",
            code="no_signature",
        )
    version = ws.models.resolve(endpoint.target)
    if version.signature is None:
        raise InvalidInput(
            f"{version.ref} was registered without a signature: register it with an "
            "input_example to get sample code and a test form",
            code="no_signature",
        )
    return version


def router(ws: Workspace) -> APIRouter:
    """Endpoints as resources."""
    api = APIRouter(prefix="/endpoints", tags=["endpoints"])

    @api.post("", status_code=status.HTTP_201_CREATED)
    def create_endpoint(
        body: EndpointCreate, request: Request, response: Response
    ) -> dict[str, Any]:
        """Create an endpoint; its two keys are in this answer and never shown again."""
        endpoint = ws.endpoints.create(
            body.name,
            model=body.model,
            collect=body.collect,
            sampling_rate=body.sampling_rate,
            description=body.description,
            batch_max_rows=body.batch_max_rows,
            batch_max_wait_ms=body.batch_max_wait_ms,
            check_packages=body.check_packages,
            output_names=body.output_names,
            actor=person_of(request).name,
        )
        response.headers["Location"] = url(request, f"/api/v1/endpoints/{endpoint.name}")
        return endpoint_view(request, endpoint)

    @api.get("")
    def list_endpoints(request: Request) -> list[dict[str, Any]]:
        """Every endpoint with its target and state."""
        return [endpoint_view(request, e) for e in ws.endpoints.list()]

    @api.get("/{name}")
    def show_endpoint(name: str, request: Request) -> dict[str, Any]:
        """One endpoint (its keys are stored hashed and cannot be shown)."""
        return endpoint_view(request, ws.endpoints.get(name))

    @api.patch("/{name}")
    def update_endpoint(name: str, body: EndpointUpdate, request: Request) -> dict[str, Any]:
        """Serve another model reference and/or change data collection; keys stay,
        replicas follow within a second."""
        rollout = (body.model, body.traffic, body.mirror)
        if all(v is None for v in (*rollout, body.collect, body.sampling_rate, body.output_names)):
            raise InvalidInput(
                "give model, traffic, mirror, collect, sampling_rate or output_names",
                code="nothing_to_update",
            )
        who = person_of(request).name
        endpoint = ws.endpoints.get(name)
        if any(v is not None for v in rollout):
            endpoint = ws.endpoints.update(
                name, model=body.model, traffic=body.traffic, mirror=body.mirror, actor=who
            )
        if body.collect is not None or body.sampling_rate is not None:
            on = endpoint.collect if body.collect is None else body.collect
            endpoint = ws.endpoints.collect(
                name, on=on, sampling_rate=body.sampling_rate, actor=who
            )
        if body.output_names is not None:
            endpoint = ws.endpoints.name_outputs(name, body.output_names, actor=who)
        return endpoint_view(request, endpoint)

    @api.get("/{name}/comparison")
    def comparison(name: str) -> dict[str, Any]:
        """What the endpoint's mirror found: per (answering, mirrored) version pair, the
        requests compared, agreement of classes or absolute differences of numbers, and
        the latency of both."""
        endpoint = ws.endpoints.get(name)
        return {
            "endpoint": name,
            "mirror": endpoint.mirror,
            "comparisons": [c.to_dict() for c in ws.endpoints.comparison(name)],
        }

    @api.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_endpoint(name: str, request: Request) -> Response:
        """Delete the endpoint; replicas stop serving it within a second."""
        ws.endpoints.delete(name, actor=person_of(request).name)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @api.get("/{name}/logs", response_class=PlainTextResponse)
    def endpoint_logs(name: str, tail: int = Query(1000, ge=1, le=5000)) -> PlainTextResponse:
        """The endpoint's newest log lines: environment build, entry-script output, events."""
        return PlainTextResponse(ws.endpoints.logs(name, tail=tail))

    @api.get("/{name}/samples")
    def samples(name: str, request: Request) -> dict[str, Any]:
        """Programs calling the endpoint in curl, Python, JavaScript, C# and R, for each
        wire format, with a row drawn from the served version's training profile."""
        version = served_version(ws, name)
        base = str(request.base_url)
        return {
            "endpoint": name,
            "version": version.version,
            "example": example_row(version),
            "key_variable": "MODELYARD_KEY",
            "samples": [s.to_dict() for s in snippets(base, name, version)],
        }

    @api.post("/{name}/keys/regenerate")
    def regenerate_key(name: str, body: Regenerate, request: Request) -> dict[str, Any]:
        """A new key for one slot; the old one stops working."""
        key = ws.endpoints.regenerate_key(name, body.slot, actor=person_of(request).name)
        return {"endpoint": name, "slot": body.slot, "key": key}

    return api
