"""The Open Inference Protocol's ``inference.GRPCInferenceService``: health, metadata and
inference over gRPC, on the replica's runtime (its endpoints, loaded models, hot swap).

A model is an endpoint, as on ``/v2/models/E``. The key travels in the call's metadata
(``authorization: Bearer <key>``) and is checked by the rules of the HTTP routes
(:mod:`modelyard.web.auth`), before the tensors are read. ``model_version`` is empty
(the version the endpoint serves now), that version's number, or the alias the endpoint
follows (``champion``). Errors are the one error table's, as gRPC codes
(:mod:`modelyard.web.grpc_status`), with the same messages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from modelyard import __version__
from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import (
    InvalidInput,
    ModelUnavailable,
    ModelyardError,
    Unauthorized,
    VersionNotFound,
)
from modelyard.serving.loading import Loaded
from modelyard.serving.protocols import v2, v2_grpc
from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Scorer
from modelyard.storage.endpoints import EndpointRecord
from modelyard.web.auth import bearer_token, keys_required, opens
from modelyard.web.grpc_status import CODE_TRAILER, code_of
from modelyard.web.scoring import score_decoded

SERVICE = "inference.GRPCInferenceService"
log = logging.getLogger("modelyard.web")

Request = TypeVar("Request")
Response = TypeVar("Response")
Context = Any  # grpc.aio.ServicerContext (grpcio ships no type hints)


class InferenceService:
    """The six calls of ``GRPCInferenceService`` for one replica's runtime."""

    def __init__(
        self,
        runtime: Runtime,
        admin_key: Secret | None,
        require_keys: bool,
        limits: ServeOptions,
    ) -> None:
        self.runtime = runtime
        self.admin_key = admin_key
        self.require_keys = require_keys
        self.limits = limits

    async def server_live(self, request: pb.ServerLiveRequest, context: Context) -> Any:
        """Always live while it answers."""
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: pb.ServerReadyRequest, context: Context) -> Any:
        """Ready once the runtime has loaded what it serves."""
        return pb.ServerReadyResponse(ready=self.runtime.ready)

    async def server_metadata(self, request: pb.ServerMetadataRequest, context: Context) -> Any:
        """Name, version and extensions, as ``GET /v2``."""
        document = v2.server_metadata(__version__)
        return pb.ServerMetadataResponse(
            name=document["name"], version=document["version"], extensions=[]
        )

    async def model_ready(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        """Whether the endpoint serves (the asked version): false while its model loads."""
        record, scorer = self._opened(request.name, context)
        try:
            self._serving(record, scorer, request.version)
        except ModelUnavailable:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def model_metadata(self, request: pb.ModelMetadataRequest, context: Context) -> Any:
        """Inputs and outputs, as ``GET /v2/models/E``; the pandas convention (one input
        per column) is announced as the property ``content_type = pd``."""
        record, scorer = self._opened(request.name, context)
        current = self._serving(record, scorer, request.version)
        document = v2.model_metadata(
            request.name,
            current.version.version,
            current.version.flavour.value,
            current.signature,
            v2.classes_of(current.model),
        )
        answer = pb.ModelMetadataResponse(
            name=document["name"], versions=document["versions"], platform=document["platform"]
        )
        for tensor in document["inputs"]:
            answer.inputs.add(**tensor)
        for tensor in document["outputs"]:
            answer.outputs.add(**tensor)
        answer.properties.update(document.get("parameters", {}))
        return answer

    async def model_infer(self, request: pb.ModelInferRequest, context: Context) -> Any:
        """Score the request's tensors with the endpoint's model, as ``/infer`` does."""
        name = request.model_name
        record, scorer = self._opened(name, context)
        self._serving(record, scorer, request.model_version)
        parsed: list[v2.InferRequest] = []

        def decode() -> Any:
            parsed.append(v2_grpc.infer_request(request))
            return v2.to_frame(parsed[0], scorer.signature)

        scored = await score_decoded(
            self.runtime,
            record,
            scorer,
            decode,
            request_id=_request_id(context),
            timeout_s=self.limits.timeout_s,
        )
        _check_version(record, scorer, request.model_version, scored.version.version)
        raw = bool(request.raw_input_contents)
        return v2_grpc.infer_response(
            parsed[0], raw, name, scored.version.version, scored.predictions
        )

    def _opened(self, name: str, context: Context) -> tuple[EndpointRecord, Scorer]:
        """The endpoint ``name`` once the call's key opens it (as the HTTP routes decide)."""
        if not name:
            raise InvalidInput("name the model: the endpoint to call", code="bad_shape")
        record, scorer = self.runtime.endpoint(name)
        if not keys_required(record, self.require_keys, self.limits):
            return record, scorer
        token = bearer_token(_metadata(context).get("authorization", ""))
        if token is None:
            raise Unauthorized(
                f"endpoint {record.name} needs the metadata 'authorization: Bearer <key>': "
                f"`modelyard endpoints keys {record.name}` shows how to get one"
            )
        if not opens(record, token, self.admin_key):
            raise Unauthorized(f"the key is not valid for endpoint {record.name}")
        return record, scorer

    def _serving(self, record: EndpointRecord, scorer: Scorer, asked: str) -> Loaded:
        current = scorer.current
        if current is None:
            raise ModelUnavailable(
                f"model {record.name} is not ready"
                + (f": {scorer.last_error}" if scorer.last_error else "")
            )
        _check_version(record, scorer, asked, current.version.version)
        return current


def _check_version(record: EndpointRecord, scorer: Scorer, asked: str, serving: int) -> None:
    """An asked ``model_version`` must be the number of the version that answers, or the
    alias the endpoint follows."""
    if not asked or asked == str(serving) or asked == scorer.target.alias:
        return
    alias = f" or {scorer.target.alias!r}" if scorer.target.alias else ""
    raise VersionNotFound(
        f"model {record.name} serves version {serving} only, not {asked!r}: leave "
        f"model_version empty, or send {str(serving)!r}{alias}",
        endpoint=record.name,
        version=asked,
        serving=serving,
    )


def _metadata(context: Context) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _request_id(context: Context) -> str:
    given = _metadata(context).get("x-request-id", "")[:128]
    return given or uuid.uuid4().hex


def _answering(
    call: Callable[[Request, Context], Awaitable[Response]],
) -> Callable[[Request, Context], Awaitable[Response]]:
    """``call`` with modelyard errors answered as gRPC statuses, and bugs logged and
    answered INTERNAL with the request id (never a traceback)."""

    async def answered(request: Request, context: Context) -> Response:
        try:
            return await call(request, context)
        except ModelyardError as error:
            context.set_trailing_metadata(((CODE_TRAILER, error.code),))
            await context.abort(code_of(error), error.message)
        except Exception:
            request_id = _request_id(context)
            log.exception("unhandled error on gRPC call, request id %s", request_id)
            context.set_trailing_metadata(((CODE_TRAILER, "internal"),))
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error; request id {request_id}"
            )
        raise AssertionError("context.abort returned")  # pragma: no cover

    return answered


def handler(service: InferenceService) -> Any:
    """The generic RPC handler serving ``service`` as ``inference.GRPCInferenceService``."""
    calls: dict[str, tuple[Callable[..., Awaitable[Any]], Any, Any]] = {
        "ServerLive": (service.server_live, pb.ServerLiveRequest, pb.ServerLiveResponse),
        "ServerReady": (service.server_ready, pb.ServerReadyRequest, pb.ServerReadyResponse),
        "ModelReady": (service.model_ready, pb.ModelReadyRequest, pb.ModelReadyResponse),
        "ServerMetadata": (
            service.server_metadata,
            pb.ServerMetadataRequest,
            pb.ServerMetadataResponse,
        ),
        "ModelMetadata": (
            service.model_metadata,
            pb.ModelMetadataRequest,
            pb.ModelMetadataResponse,
        ),
        "ModelInfer": (service.model_infer, pb.ModelInferRequest, pb.ModelInferResponse),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            method: grpc.unary_unary_rpc_method_handler(
                _answering(call),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
            for method, (call, request, response) in calls.items()
        },
    )
