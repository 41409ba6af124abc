"""Open Inference Protocol (KServe V2): inference requests and responses, metadata, errors.

Two ways to send a table:

- tensor mode: one input (``input-0`` by convention) of shape ``[N, F]``, its columns
  the model's features in signature order; numeric features only;
- dataframe mode (MLServer's ``"parameters": {"content_type": "pd"}``, also chosen when
  every input is named after a model column): one input per column, shape ``[N]`` or
  ``[N, 1]``, strings as ``BYTES``.

Predictions come back as one output ``output-0``: ``[N]`` for values or labels,
``[N, n_classes]`` for probabilities. Errors are ``{"error": "..."}``, which is all
tritonclient reads; modelyard's ``code`` and details ride beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelyard.errors import InvalidInput, ModelyardError, VersionNotFound
from modelyard.serving.frame import columns_of, rows_of
from modelyard.serving.protocols.codec import Columns, Encoded, Head, Result
from modelyard.serving.protocols.common import JSON, dumps
from modelyard.serving.protocols.v2_tensors import (
    BYTES,
    Tensor,
    datatype_of,
    inflate,
    read_tensor,
    split_body,
)
from modelyard.types import OutputKind, Signature

INPUT = "input-0"
OUTPUT = "output-0"
EXTENSIONS = ["binary_tensor_data"]
_NUMERIC = {"int64", "float64", "bool"}
_COLUMN_TYPES = {"int64": "INT64", "float64": "FP64", "bool": "BOOL"}


@dataclass(frozen=True)
class InferRequest:
    """A decoded ``/infer`` request."""

    id: Any
    parameters: Mapping[str, Any]
    inputs: list[Tensor]
    outputs: list[str] | None


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Decode a JSON request, or one using the binary tensor extension."""
    header, tail = split_body(body, header_length)
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(document, Mapping):
        raise InvalidInput('the request must be a JSON object with "inputs"', code="bad_shape")
    specs = document.get("inputs")
    if not isinstance(specs, list) or not specs:
        raise InvalidInput('the request needs "inputs": a non-empty list', code="bad_shape")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidInput("parameters must be an object", code="bad_shape")
    inputs: list[Tensor] = []
    offset = 0
    for spec in specs:
        tensor, offset = read_tensor(spec, tail, offset, "input")
        inputs.append(tensor)
    if offset != len(tail):
        raise InvalidInput(
            f"{len(tail) - offset} bytes after the tensors are not claimed by any "
            "input's binary_data_size",
            code="bad_tensor",
        )
    return InferRequest(document.get("id"), parameters, inputs, _requested(document))


def to_frame(request: InferRequest, signature: Signature | None) -> Columns:
    """The checked frame of a request, in dataframe or tensor mode."""
    if _dataframe_mode(request, signature):
        return _from_columns(request.inputs, signature)
    if len(request.inputs) != 1:
        raise InvalidInput(
            f"{len(request.inputs)} inputs: send one [N, features] tensor, or one input per "
            'column with "parameters": {"content_type": "pd"}',
            code="bad_shape",
        )
    tensor = request.inputs[0]
    if signature is None:
        width = tensor.shape[1] if len(tensor.shape) == 2 else 1
        rows = [tensor.values[i : i + width] for i in range(0, len(tensor.values), width)]
        return rows_of(rows, None)
    text = [c.name for c in signature.inputs if c.dtype not in _NUMERIC]
    if text:
        raise InvalidInput(
            f"tensor mode takes numeric features only, and {', '.join(text)} "
            "are not numeric: send one input per column (BYTES for strings) with "
            '"parameters": {"content_type": "pd"}',
            code="bad_shape",
        )
    width = len(signature.inputs)
    shape = list(tensor.shape)
    if not ((len(shape) == 2 and shape[1] == width) or (len(shape) == 1 and width == 1)):
        raise InvalidInput(
            f"input {tensor.name!r} has shape {shape}; the model takes [N, {width}] "
            f"({', '.join(signature.names)})",
            code="bad_tensor",
        )
    return columns_of(
        {name: tensor.values[j::width] for j, name in enumerate(signature.names)}, signature
    )


def encode(
    request: InferRequest,
    name: str,
    version: int,
    predictions: np.ndarray[Any, Any],
    output: str = OUTPUT,
) -> dict[str, Any]:
    """The inference response: one output (named ``output``), ``id`` echoed."""
    unknown = [n for n in request.outputs or () if n != output]
    if unknown:
        raise InvalidInput(
            f"unknown output {unknown[0]!r}: this model has one output, {output!r}",
            code="unknown_output",
        )
    predictions = output_values(predictions)
    tensor = {
        "name": output,
        "datatype": datatype_of(predictions),
        "shape": list(predictions.shape),
        "data": predictions.ravel().tolist(),
    }
    document: dict[str, Any] = {"model_name": name, "model_version": str(version)}
    if request.id is not None:
        document["id"] = request.id
    document["outputs"] = [tensor]
    return document


def output_values(predictions: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Predictions as the one output sends them: FP64 for any float (as model metadata
    says), integers and booleans as they are, anything else as text (``BYTES``)."""
    if predictions.dtype.kind == "f":
        return predictions.astype("float64")
    if predictions.dtype.kind not in "biu":
        return predictions.astype(str)
    return predictions


def classes_of(model: Any) -> list[Any] | None:
    """The classes a classifier answers (``classes_``) as plain values, or None."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [c.item() if hasattr(c, "item") else c for c in classes]


def model_metadata(
    name: str,
    version: int,
    platform: str,
    signature: Signature | None,
    classes: Sequence[Any] | None,
    output: str = OUTPUT,
) -> dict[str, Any]:
    """What a client needs to build a request: inputs and outputs with datatype and shape
    (the one output named ``output``)."""
    document: dict[str, Any] = {"name": name, "versions": [str(version)], "platform": platform}
    if signature is None:
        document["inputs"] = [{"name": INPUT, "datatype": "FP64", "shape": [-1, -1]}]
    elif all(c.dtype in _NUMERIC for c in signature.inputs):
        width = len(signature.inputs)
        document["inputs"] = [{"name": INPUT, "datatype": "FP64", "shape": [-1, width]}]
    else:
        document["inputs"] = [
            {"name": c.name, "datatype": _COLUMN_TYPES.get(c.dtype, BYTES), "shape": [-1]}
            for c in signature.inputs
        ]
        document["parameters"] = {"content_type": "pd"}
    document["outputs"] = [{"name": output, **_output_metadata(signature, classes)}]
    return document


def server_metadata(version: str) -> dict[str, Any]:
    """``GET /v2``."""
    return {"name": "modelyard", "version": version, "extensions": EXTENSIONS}


def error_body(error: ModelyardError, status: int) -> dict[str, Any]:
    """``{"error": message}`` with modelyard's code and details beside it."""
    return {"error": error.message, **error.to_dict()}


def _output_metadata(signature: Signature | None, classes: Sequence[Any] | None) -> dict[str, Any]:
    kind = signature.output_kind if signature else OutputKind.RAW
    if kind is OutputKind.PROBABILITIES:
        return {"datatype": "FP64", "shape": [-1, len(classes) if classes else -1]}
    if kind is not OutputKind.REGRESSION and classes:
        return {"datatype": datatype_of(np.asarray(classes)), "shape": [-1]}
    return {"datatype": "FP64", "shape": [-1]}


def _dataframe_mode(request: InferRequest, signature: Signature | None) -> bool:
    if request.parameters.get("content_type") == "pd":
        return True
    names = set(signature.names) if signature else set()
    return bool(names) and all(t.name in names for t in request.inputs)


def _from_columns(inputs: list[Tensor], signature: Signature | None) -> Columns:
    columns: dict[str, list[Any]] = {}
    for tensor in inputs:
        if signature is not None and tensor.name not in signature.names:
            raise InvalidInput(
                f"unknown input {tensor.name!r}: the model's inputs are "
                f"{', '.join(signature.names)}",
                code="unknown_input",
                column=tensor.name,
            )
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise InvalidInput(
                f"input {tensor.name!r} has shape {list(tensor.shape)}: in dataframe mode "
                "each input is one column, of shape [N] or [N, 1]",
                code="bad_tensor",
                column=tensor.name,
            )
        columns[tensor.name] = tensor.values
    return columns_of(columns, signature)


def _requested(document: Mapping[str, Any]) -> list[str] | None:
    outputs = document.get("outputs")
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, Mapping) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidInput('outputs must be a list of {"name": ...} objects', code="bad_shape")
    return [o["name"] for o in outputs]  # checked against the output's name by encode


@dataclass(frozen=True)
class V2Codec:
    """The codec of ``/v2/models/E[/versions/V]/infer``: JSON or the binary tensor
    extension, gzip or deflate, any Content-Type (tritonclient sends none)."""

    max_body_bytes: int
    name: str = "v2"

    def media(self, head: Head) -> str:
        """Any media type: the body says what it is."""
        return ""

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """Checked columns of the request, and the request (its id, asked outputs)."""
        body = inflate(body, head.headers.get("content-encoding"), self.max_body_bytes)
        request = parse_request(body, head.headers.get("inference-header-content-length"))
        return to_frame(request, signature), (request, head.params.get("version"))

    def encode(self, context: Any, result: Result) -> Encoded:
        """The inference response, its one output named by the endpoint's output names."""
        request, asked = context
        if asked is not None and asked != str(result.version):  # a swap while scoring
            raise VersionNotFound(
                f"model {result.endpoint} serves version {result.version} now, not {asked!r}",
                endpoint=result.endpoint,
                version=asked,
                serving=result.version,
            )
        output = result.output_names[0] if result.output_names else OUTPUT
        document = encode(request, result.endpoint, result.version, result.predictions, output)
        return Encoded(dumps(document), JSON)

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """``{"error": message}`` beside modelyard's code."""
        return error_body(error, status)
