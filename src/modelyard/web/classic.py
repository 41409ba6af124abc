"""Azure ML Studio (classic) Request-Response: ``POST /endpoints/E/execute?api-version=2.0``."""

from __future__ import annotations

import time

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.serving.protocols import classic
from modelyard.serving.protocols.common import JSON, dumps, parse_json, require
from modelyard.serving.runtime import Runtime
from modelyard.types import Signature
from modelyard.web.scoring import Scoring, version_headers
from modelyard.web.shaped import shaped_route

MEDIA_TYPE = "application/json; charset=utf-8"


def router(
    runtime: Runtime, admin_key: Secret | None, require_keys: bool, limits: ServeOptions
) -> APIRouter:
    """The RRS route of every endpoint, table and ``format=swagger`` variants."""
    api = APIRouter(tags=["azure ml classic"], route_class=shaped_route(classic.error_body))
    scoring = Scoring(runtime, admin_key, require_keys, limits)

    @api.post("/endpoints/{name}/execute")
    async def execute(name: str, request: Request) -> Response:
        started = time.perf_counter()
        decoded: list[tuple[classic.Table, classic.Options, Signature | None]] = []

        def decode(body: bytes, signature: Signature | None) -> pd.DataFrame:
            options = classic.Options.parse(request.query_params)
            require(request.headers.get("content-type"), (JSON,))
            table, frame = classic.decode(parse_json(body), signature)
            decoded.append((table, options, signature))
            return frame

        scored = await scoring.score(request, name, decode)
        table, options, signature = decoded[0]
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        document = classic.encode(
            table, scored.predictions, scored.classes, signature, options, elapsed_ms
        )
        return Response(dumps(document), media_type=MEDIA_TYPE, headers=version_headers(scored))

    return api
