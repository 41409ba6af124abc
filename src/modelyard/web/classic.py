"""Azure ML Studio (classic) Request-Response: ``POST /endpoints/E/execute?api-version=2.0``,
through the data plane with the classic codec."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard.serving.dataplane import DataPlane
from modelyard.serving.protocols.classic import CODEC
from modelyard.web.scoring import through


def router(plane: DataPlane) -> APIRouter:
    """The RRS route of every endpoint, table and ``format=swagger`` variants."""
    api = APIRouter(tags=["azure ml classic"])

    @api.post("/endpoints/{name}/execute")
    async def execute(name: str, request: Request) -> Response:
        return await through(plane, CODEC, name, request)

    return api
