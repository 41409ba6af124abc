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
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.serving.protocols import v2
from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as pb
from modelyard.serving.protocols.v2_tensors import BYTES, Tensor, datatype_of, read_tensor

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
    outputs = [o.name for o in message.outputs] or None
    if outputs is not None:
        unknown = [n for n in outputs if n != v2.OUTPUT]
        if unknown:
            raise InvalidInput(
                f"unknown output {unknown[0]!r}: this model has one output, {v2.OUTPUT!r}",
                code="unknown_output",
            )
    return v2.InferRequest(message.id or None, parameters(message.parameters), inputs, outputs)


def infer_response(
    request: v2.InferRequest,
    raw: bool,
    name: str,
    version: int,
    predictions: np.ndarray[Any, Any],
) -> pb.ModelInferResponse:
    """The answer: one output ``output-0``, ``id`` echoed, raw when the request was."""
    values = v2.output_values(predictions)
    datatype = datatype_of(values)
    answer = pb.ModelInferResponse(model_name=name, model_version=str(version), id=request.id or "")
    output = answer.outputs.add(name=v2.OUTPUT, datatype=datatype, shape=list(values.shape))
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
