"""``/api/v1/endpoints``: create (keys shown once), list, show, retarget, delete, new keys,
logs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from modelyard.web.admin.views import endpoint_view, url
from modelyard.workspace import Workspace


class EndpointCreate(BaseModel):
    """A new endpoint and the model reference it serves."""

    name: str = Field(description="Part of its URL: /endpoints/NAME/score.")
    model: str = Field(description="immo, immo@champion or immo:3.")
    collect: bool = False
    description: str = ""
    batch_max_rows: int = Field(0, ge=0, description="Micro-batch up to this many rows (0: off).")
    batch_max_wait_ms: float = Field(2.0, ge=0)
    check_packages: bool = Field(
        True, description="Refuse versions trained with another scikit-learn/xgboost/numpy."
    )


class EndpointUpdate(BaseModel):
    """The model reference the endpoint serves from now on."""

    model: str = Field(description="immo, immo@champion or immo:3.")


class Regenerate(BaseModel):
    """Which key to replace."""

    slot: Literal["primary", "secondary"] = "primary"


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
            description=body.description,
            batch_max_rows=body.batch_max_rows,
            batch_max_wait_ms=body.batch_max_wait_ms,
            check_packages=body.check_packages,
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
        """Serve another model reference; keys stay, replicas follow within a second."""
        return endpoint_view(request, ws.endpoints.update(name, model=body.model))

    @api.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_endpoint(name: str) -> Response:
        """Delete the endpoint; replicas stop serving it within a second."""
        ws.endpoints.delete(name)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @api.get("/{name}/logs", response_class=PlainTextResponse)
    def endpoint_logs(name: str, tail: int = Query(1000, ge=1, le=5000)) -> PlainTextResponse:
        """The endpoint's newest log lines: environment build, entry-script output, events."""
        return PlainTextResponse(ws.endpoints.logs(name, tail=tail))

    @api.post("/{name}/keys/regenerate")
    def regenerate_key(name: str, body: Regenerate) -> dict[str, Any]:
        """A new key for one slot; the old one stops working."""
        return {
            "endpoint": name,
            "slot": body.slot,
            "key": ws.endpoints.regenerate_key(name, body.slot),
        }

    return api
