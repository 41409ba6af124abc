"""The Open Inference Protocol's ``inference.GRPCInferenceService``: health, metadata and
inference over gRPC, one more transport over the replica's data plane
(:mod:`modelyard.serving.dataplane`): ``ModelInfer`` goes through the same pipeline as
``/v2/models/E/infer`` (endpoint table, key, decode, signature, route, score, encode,
after hooks) with the codec :class:`~modelyard.serving.protocols.v2_grpc.InferCall`.

A model is an endpoint, as on ``/v2/models/E``. The key travels in the call's metadata
(``authorization: Bearer <key>``) and is checked by the data plane's key check, before
the tensors are read. ``model_version`` is empty
(the version the endpoint serves now), that version's number, or the alias the endpoint
follows (``champion``). Errors are the one error table's, as gRPC codes
(:mod:`modelyard.web.grpc_status`), with the same messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from modelyard import __version__
from modelyard.errors import InternalError, ModelUnavailable, ModelyardError, VersionNotFound
from modelyard.monitoring.prometheus import UNKNOWN
from modelyard.monitoring.tally import TALLY
from modelyard.serving.dataplane import Answer, DataPlane
from modelyard.serving.loading import Loaded
from modelyard.serving.protocols import v2
from modelyard.serving.protocols.codec import Head
from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocols.v2_grpc import InferCall
from modelyard.web.grpc_status import CODE_TRAILER, code_of

PROTOCOL = "v2-grpc"  # the protocol label of gRPC calls in /metrics
SERVICE = "inference.GRPCInferenceService"
log = logging.getLogger("modelyard.web")

Request = TypeVar("Request")
Response = TypeVar("Response")
Context = Any  # grpc.aio.ServicerContext (grpcio ships no type hints)


class InferenceService:
    """The six calls of ``GRPCInferenceService`` over one replica's data plane."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.runtime = plane.runtime

    async def server_live(self, request: pb.ServerLiveRequest, context: Context) -> Any:
        """Always live while it answers."""
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: pb.ServerReadyRequest, context: Context) -> Any:
        """Ready once the runtime has loaded what it serves."""
        return pb.ServerReadyResponse(ready=self.runtime.ready)

    async def server_metadata(self, request: pb.ServerMetadataRequest, context: Context) -> Any:
        """Name and version, as ``GET /v2`` (whose extension is HTTP's own)."""
        document = v2.server_metadata(__version__)
        return pb.ServerMetadataResponse(name=document["name"], version=document["version"])

    async def model_ready(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        """Whether the endpoint serves (the asked version): false while its model loads."""
        try:
            self._serving(request.name, request.version, context)
        except ModelUnavailable:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def model_metadata(self, request: pb.ModelMetadataRequest, context: Context) -> Any:
        """Inputs and outputs, as ``GET /v2/models/E``; the pandas convention (one input
        per column) is announced as the property ``content_type = pd``."""
        current = self._serving(request.name, request.version, context)
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

    async def model_infer(self, request: pb.ModelInferRequest, context: Context) -> bytes:
        """Score the call's tensors through the data plane, as ``/infer`` does; returns the
        serialized ``ModelInferResponse``. Counted in the same metrics as HTTP requests."""
        started = time.perf_counter()
        name = request.model_name
        endpoint = name if self._serves(name) else UNKNOWN
        head = Head(_metadata(context), {}, self._version_params(name, request.model_version))
        TALLY.begin(PROTOCOL)
        answer: Answer | None = None
        try:
            answer = await self.plane.handle(
                name, InferCall(request), head, _no_body, _request_id(context)
            )
        finally:
            exchange = answer.exchange if answer is not None else None
            scored = exchange.scored if exchange is not None else None
            version = str(scored.version.version) if scored is not None else ""
            status = answer.status if answer is not None else 500
            sent = len(answer.body) if answer is not None and answer.status == 200 else 0
            seconds = time.perf_counter() - started
            TALLY.end(PROTOCOL, endpoint, version, status, seconds, request.ByteSize(), sent)
        asyncio.get_running_loop().call_soon(answer.done)  # the after hooks, once answered
        if answer.status != 200:
            error = exchange.error if exchange is not None else None
            raise error or InternalError("internal error: a refusal without its error")
        return answer.body

    def _serves(self, name: str) -> bool:
        try:
            self.runtime.lookup(name)
        except ModelyardError:
            return False
        return True

    def _version_params(self, name: str, asked: str) -> dict[str, str]:
        """The path parameters HTTP would have: none for an empty ``model_version`` or the
        alias the endpoint follows (the version it serves now), else ``version``."""
        if not asked:
            return {}
        try:
            _, scorer = self.runtime.lookup(name)
        except ModelyardError:
            return {}  # the pipeline answers the unknown name
        if scorer is not None and asked == scorer.target.alias:
            return {}
        return {"version": asked}

    def _serving(self, name: str, asked: str, context: Context) -> Loaded:
        """The version endpoint ``name`` serves, once the call's key opens it (the data
        plane's own check) and the asked version is that one."""
        record, scorer = self.runtime.lookup(name)
        self.plane.keys(record, Head(_metadata(context)))
        current = scorer.current if scorer is not None else None
        if scorer is None or current is None:
            error = scorer.last_error if scorer is not None else "loading"
            raise ModelUnavailable(f"model {name} is not ready" + (f": {error}" if error else ""))
        if asked and asked != str(current.version.version) and asked != scorer.target.alias:
            alias = f" or {scorer.target.alias!r}" if scorer.target.alias else ""
            raise VersionNotFound(
                f"model {name} serves version {current.version.version} only, not {asked!r}: "
                f"leave model_version empty, or send {str(current.version.version)!r}{alias}",
                endpoint=name,
                version=asked,
                serving=current.version.version,
            )
        return current


async def _no_body() -> bytes:
    return b""  # gRPC has read and parsed the message already


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
        "ModelInfer": (service.model_infer, pb.ModelInferRequest, None),  # serialized already
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            method: grpc.unary_unary_rpc_method_handler(
                _answering(call),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString if response else None,
            )
            for method, (call, request, response) in calls.items()
        },
    )
