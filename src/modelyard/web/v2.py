"""Open Inference Protocol (KServe V2) routes: server and model metadata, model readiness,
inference. ``/v2/health/live`` and ``/ready`` are in :mod:`modelyard.web.app`.

A model is an endpoint; its one version is the one serving now. No Content-Type is
required on ``/infer`` (tritonclient sends none).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from modelyard import __version__
from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelUnavailable, NotFound, VersionNotFound
from modelyard.serving.dataplane import DataPlane, output_names
from modelyard.serving.loading import Loaded
from modelyard.serving.protocols import v2
from modelyard.serving.protocols.common import JSON, dumps
from modelyard.web.auth import check_score_key
from modelyard.web.scoring import through
from modelyard.web.shaped import shaped_route


def router(
    plane: DataPlane, admin_key: Secret | None, require_keys: bool, limits: ServeOptions
) -> APIRouter:
    """``/v2`` and ``/v2/models/{name}[/versions/{version}][/ready|/infer]``."""
    api = APIRouter(tags=["open inference (v2)"], route_class=shaped_route(v2.error_body))
    runtime = plane.runtime
    codec = v2.V2Codec(limits.max_body_bytes)

    def serving(name: str, request: Request, version: str | None) -> Loaded:
        """The version ``name`` serves, after the key and the asked version are checked."""
        record, scorer = runtime.lookup(name)
        check_score_key(request, record, admin_key, required=require_keys)
        current = scorer.current if scorer is not None else None
        if current is None:
            error = scorer.last_error if scorer is not None else "loading"
            raise ModelUnavailable(f"model {name} is not ready" + (f": {error}" if error else ""))
        _check_version(name, version, current.version.version)
        return current

    @api.get("/v2")
    async def server_metadata() -> JSONResponse:
        return JSONResponse(v2.server_metadata(__version__))

    @api.get("/v2/models/{name}")
    @api.get("/v2/models/{name}/versions/{version}")
    async def model_metadata(name: str, request: Request) -> Response:
        version = request.path_params.get("version")
        current = serving(name, request, version)
        names = output_names(runtime.record(name), current.signature)
        document = v2.model_metadata(
            name,
            current.version.version,
            current.version.flavour.value,
            current.signature,
            v2.classes_of(current.model),
            names[0] if names else v2.OUTPUT,
        )
        return Response(dumps(document), media_type=JSON, headers=_headers(current))

    @api.get("/v2/models/{name}/ready")
    @api.get("/v2/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, request: Request) -> Response:
        version = request.path_params.get("version")
        current = serving(name, request, version)
        return Response(
            dumps({"name": name, "ready": True}), media_type=JSON, headers=_headers(current)
        )

    @api.post("/v2/models/{name}/infer")
    @api.post("/v2/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request) -> Response:
        return await through(plane, codec, name, request)

    @api.api_route(
        "/v2/{path:path}", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False
    )
    async def elsewhere(path: str, request: Request) -> Response:
        # tritonclient reads only {"error": ...}: its other calls (config, repository,
        # statistics) get an error it can show rather than one it cannot decode.
        raise NotFound(
            f"no route {request.method} /v2/{path}: modelyard serves the Open Inference "
            "Protocol's health, metadata, ready and infer routes"
        )

    return api


def _check_version(name: str, asked: str | None, serving: int) -> None:
    if asked is not None and asked != str(serving):
        raise VersionNotFound(
            f"model {name} serves version {serving} only, not {asked!r}: "
            f"call /v2/models/{name}/infer or /v2/models/{name}/versions/{serving}/infer",
            endpoint=name,
            version=asked,
            serving=serving,
        )


def _headers(current: Loaded) -> dict[str, str]:
    return {"x-model-version": str(current.version.version), "x-model-name": current.version.name}
