"""Open Inference Protocol (V2) over gRPC: ``ModelInferRequest`` to tensors, predictions to
``ModelInferResponse``, with the REST codec's rules (:mod:`.v2`, :mod:`.v2_tensors`).

A tensor arrives either in ``contents`` (the typed repeated field of its datatype) or as
the request's ``raw_input_contents`` (one entry per input, in input order: little-endian,
row-major; a ``BYTES`` element is a 4-byte length and its bytes, what tritonclient sends).
Both are read by :func:`.v2_tensors.read_tensor`, the REST codec's reader, so a tensor is
valid over gRPC exactly when it is valid over HTTP. The answer mirrors the request:
``raw_output_contents`` to a request that sent raw inputs, ``contents`` otherwise.

Request and tensor ``parameters`` become plain values, so MLServer's pandas convention
(``parameters.content_type = "pd"``, one ``BYTES`` input per string column) selects the
dataframe mode as over HTTP.

On the data plane, :class:`InferCall` is the codec of one ``ModelInfer`` call: gRPC has
parsed the message before the pipeline starts (it needs the model's name to find the
endpoint), so the codec is bound to that message and reads no body of its own.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput, ModelyardError, VersionNotFound
from modelyard.serving.protocols import v2
from modelyard.serving.protocols.codec import Columns, Encoded, Head, Result
from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocols.v2_tensors import BYTES, Tensor, datatype_of, read_tensor
from modelyard.types import Signature

GRPC = "application/grpc"

# the field of InferTensorContents that holds each datatype (FP16 and BF16 travel raw only)
CONTENTS: dict[str, str] = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    BYTES: "bytes_contents",
}


@dataclass(frozen=True)
class InferCall:
    """The codec of one ``ModelInfer`` call (see the module docstring)."""

    message: pb.ModelInferRequest
    name: str = "v2-grpc"

    def media(self, head: Head) -> str:
        """gRPC's own framing: nothing to check."""
        return GRPC

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """Checked columns of the call's tensors, by the REST codec's rules; the context is
        the V2 request and the version asked (``head.params``)."""
        request = infer_request(self.message)
        return v2.to_frame(request, signature), (request, head.params.get("version"))

    def encode(self, context: Any, result: Result) -> Encoded:
        """The serialized ``ModelInferResponse``, raw when the request was."""
        request, asked = context
        if asked is not None and asked != str(result.version):  # a swap while scoring
            raise VersionNotFound(
                f"model {result.endpoint} serves version {result.version} now, not {asked!r}",
                endpoint=result.endpoint,
                version=asked,
                serving=result.version,
            )
        output = result.output_names[0] if result.output_names else v2.OUTPUT
        answer = infer_response(
            request,
            bool(self.message.raw_input_contents),
            result.endpoint,
            result.version,
            result.predictions,
            output,
        )
        return Encoded(answer.SerializeToString(), GRPC)

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """modelyard's ``{code, message}`` (gRPC sends the message as the status detail)."""
        return None


def infer_request(message: pb.ModelInferRequest) -> v2.InferRequest:
    """The V2 request a ``ModelInferRequest`` carries; ``InvalidInput`` when its tensors do
    not hold what their datatype and shape say."""
    if not message.inputs:
        raise InvalidInput("the request needs inputs: at least one tensor", code="bad_shape")
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise InvalidInput(
            f"{len(raw)} raw_input_contents for {len(message.inputs)} inputs: send one per "
            "input, in input order, or none (and contents in each input)",
            code="bad_tensor",
        )
    inputs = [_tensor(spec, raw[i] if raw else None) for i, spec in enumerate(message.inputs)]
    outputs = [o.name for o in message.outputs] or None  # checked by the encoder
    return v2.InferRequest(message.id or None, parameters(message.parameters), inputs, outputs)


def infer_response(
    request: v2.InferRequest,
    raw: bool,
    name: str,
    version: int,
    predictions: np.ndarray[Any, Any],
    output_name: str = v2.OUTPUT,
) -> pb.ModelInferResponse:
    """The answer: one output (``output-0`` unless the endpoint names it), ``id`` echoed,
    raw when the request was."""
    unknown = [n for n in request.outputs or () if n != output_name]
    if unknown:
        raise InvalidInput(
            f"unknown output {unknown[0]!r}: this model has one output, {output_name!r}",
            code="unknown_output",
        )
    values = v2.output_values(predictions)
    datatype = datatype_of(values)
    answer = pb.ModelInferResponse(model_name=name, model_version=str(version), id=request.id or "")
    output = answer.outputs.add(name=output_name, datatype=datatype, shape=list(values.shape))
    if raw:
        answer.raw_output_contents.append(_raw(values, datatype))
    elif datatype == BYTES:
        output.contents.bytes_contents.extend(str(v).encode() for v in values.ravel().tolist())
    else:
        getattr(output.contents, CONTENTS[datatype]).extend(values.ravel().tolist())
    return answer


def parameters(given: Mapping[str, pb.InferParameter]) -> dict[str, Any]:
    """Parameters as plain values (``{"content_type": "pd"}``)."""
    out: dict[str, Any] = {}
    for key, parameter in given.items():
        choice = parameter.WhichOneof("parameter_choice")
        if choice is not None:
            out[key] = getattr(parameter, choice)
    return out


def _tensor(spec: pb.ModelInferRequest.InferInputTensor, raw: bytes | None) -> Tensor:
    """One input, read by the REST codec's reader from raw bytes or from its contents."""
    document: dict[str, Any] = {
        "name": spec.name,
        "datatype": spec.datatype,
        "shape": list(spec.shape),
        "parameters": parameters(spec.parameters),
    }
    if raw is not None:
        document["parameters"]["binary_data_size"] = len(raw)
        tensor, _ = read_tensor(document, raw, 0, "input")
        return tensor
    if spec.datatype in ("FP16", "BF16"):
        raise InvalidInput(
            f"input {spec.name!r} is {spec.datatype}: send it in raw_input_contents "
            "(InferTensorContents has no field for it)",
            code="bad_tensor",
        )
    field = CONTENTS.get(spec.datatype)
    if field is None:  # the REST reader's message for an unknown datatype
        read_tensor({**document, "data": []}, b"", 0, "input")
        raise AssertionError("unreachable: an unknown datatype is refused")
    values: list[Any] = list(getattr(spec.contents, field))
    if field == "bytes_contents":
        values = [_text(v, spec.name) for v in values]
    document["data"] = values
    tensor, _ = read_tensor(document, b"", 0, "input")
    return tensor


def _raw(values: np.ndarray[Any, Any], datatype: str) -> bytes:
    """``values`` as a raw tensor: little-endian, row-major; BYTES length-prefixed."""
    if datatype == BYTES:
        encoded = [str(v).encode() for v in values.ravel().tolist()]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    return np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<")).tobytes()


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name!r}: a BYTES element is not UTF-8", code="bad_tensor"
        ) from None
