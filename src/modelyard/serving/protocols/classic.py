"""Azure ML Studio (classic) Request-Response Service: ``execute?api-version=2.0``.

Table format in and out (``Inputs.input1.ColumnNames/Values``,
``Results.output1.value``), or rows as objects with ``format=swagger``. Every value
sent back is a string, as classic sent them ("25", "0.9227", "True"); ``ColumnTypes``
only with ``details=true``. The answer repeats the input columns, then the scored ones:
``Scored Labels`` and, for classifiers, ``Scored Probabilities`` (binary) or one
``Scored Probabilities for Class "c"`` per class. Errors use classic's envelope,
``{"error": {"code", "message", "details": [{"code", "target", "message"}]}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.serving.frame import rows_of
from modelyard.serving.protocols.codec import Columns, Encoded, Head, Result
from modelyard.serving.protocols.common import JSON, dumps, parse_json, require
from modelyard.types import Signature

API_VERSION = "2.0"
LABEL = "Scored Labels"  # the prediction column, unless the endpoint names its output
MEDIA_TYPE = "application/json; charset=utf-8"
OUTPUT_PORT = "output1"
_TYPES = {"float64": "Double", "int64": "Int64", "bool": "Boolean", "datetime": "DateTime"}
_INPUT_CODES = {
    "bad_value",
    "missing_column",
    "bad_row_length",
    "ragged_columns",
    "empty_input",
    "bad_rows",
}
_DETAILS = {
    "bad_version": ("BadArgument", "BadVersionCall"),
    "invalid_json": ("BadArgument", "RequestBodyInvalid"),
    "bad_shape": ("BadArgument", "RequestBodyInvalid"),
    "bad_query": ("BadArgument", "InvalidQueryParameter"),
    "missing_input": ("BadArgument", "MissingRequestInput"),
    "invalid_input_names": ("BadArgument", "InvalidInputNames"),
    "unexpected_parameter": ("BadArgument", "UnexpectedParameter"),
    "model_error": ("ModuleExecutionError", "ModuleExecutionError"),
}
_BY_STATUS = {
    401: ("Unauthorized", "ScoreRequestUnauthorized"),
    403: ("Unauthorized", "ScoreRequestUnauthorized"),
    404: ("NotFound", "WebServiceNotFound"),
    413: ("BadArgument", "RequestBodyInvalid"),
    415: ("BadArgument", "RequestBodyInvalid"),
    429: ("ServiceUnavailable", "TooManyConcurrentRequests"),
    503: ("ServiceUnavailable", "InitializingContainers"),
    504: ("GatewayTimeout", "BackendScoreTimeout"),
}
_CLASS_MESSAGES = {
    "BadArgument": "Invalid argument provided.",
    "BadUserArgument": "Invalid user argument provided.",
    "ModuleExecutionError": "Module execution encountered an error.",
    "Unauthorized": "Unauthorized access.",
    "NotFound": "Resource not found.",
    "ServiceUnavailable": "Service is temporarily unavailable.",
    "GatewayTimeout": "The operation could not be completed within the permitted time.",
    "InternalError": "The server encountered an internal error, please retry the request.",
}


@dataclass(frozen=True)
class Options:
    """The query string: ``details=true`` adds ColumnTypes; ``format=swagger`` uses rows."""

    details: bool = False
    swagger: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Options:
        """Check ``api-version`` (only 2.0) and read ``details`` and ``format``."""
        version = query.get("api-version")
        if version != API_VERSION:
            raise InvalidInput(
                f"api-version must be {API_VERSION}, got {version!r}: "
                f"call execute?api-version={API_VERSION}",
                code="bad_version",
                target="api-version",
            )
        fmt = query.get("format", "").lower()
        if fmt not in ("", "swagger"):
            raise InvalidInput(
                f"format must be swagger or absent, got {fmt!r}", code="bad_query", target="format"
            )
        return cls(details=query.get("details", "").lower() == "true", swagger=fmt == "swagger")


@dataclass(frozen=True)
class Table:
    """The input table as sent: its port, column names and rows of values."""

    port: str
    names: list[str]
    rows: list[list[Any]]


def decode(document: Any, signature: Signature | None) -> tuple[Table, Columns]:
    """The input table and its checked frame, from either request format."""
    if not isinstance(document, Mapping):
        raise InvalidInput(
            'the body must be a JSON object: {"Inputs": {"input1": ...}, "GlobalParameters": {}}',
            code="bad_shape",
        )
    inputs = document.get("Inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        raise InvalidInput(
            'the request has no inputs: send {"Inputs": {"input1": {"ColumnNames": [...], '
            '"Values": [[...]]}}}',
            code="missing_input",
        )
    if len(inputs) != 1:
        raise InvalidInput(
            f"this web service has one input port; the request names {', '.join(inputs)}",
            code="invalid_input_names",
            target=", ".join(str(k) for k in inputs),
        )
    parameters = document.get("GlobalParameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidInput("GlobalParameters must be an object", code="bad_shape")
    if parameters:
        first = next(iter(parameters))
        raise InvalidInput(
            f"unexpected global parameter {first!r}: this web service has no parameters",
            code="unexpected_parameter",
            target=str(first),
        )
    port, value = next(iter(inputs.items()))
    table = _table(str(port), value)
    records = [
        {name: _blank_to_null(v, name, signature) for name, v in zip(table.names, row, strict=True)}
        for row in table.rows
    ]
    return table, rows_of(records, signature)


def encode(
    table: Table,
    predictions: np.ndarray[Any, Any],
    classes: Sequence[Any] | None,
    signature: Signature | None,
    options: Options,
    elapsed_ms: int,
    label: str = LABEL,
) -> dict[str, Any]:
    """The response: the input columns, then the scored ones (the label column named
    ``label``), every value a string."""
    scored = _scored(predictions, classes, label)
    names = [*table.names, *(name for name, _, _ in scored)]
    columns = list(zip(*table.rows, strict=True)) if table.rows else [()] * len(table.names)
    values = [
        [_cell(v) for v in row]
        for row in zip(*columns, *(col for _, _, col in scored), strict=True)
    ]
    if options.swagger:
        return {"Results": {OUTPUT_PORT: [dict(zip(names, row, strict=True)) for row in values]}}
    value: dict[str, Any] = {"ColumnNames": names}
    if options.details:
        types = (
            {c.name: _TYPES.get(c.dtype, "String") for c in signature.inputs} if signature else {}
        )
        value["ColumnTypes"] = [types.get(n, "String") for n in table.names] + [
            kind for _, kind, _ in scored
        ]
    value["Values"] = values
    return {
        "Results": {OUTPUT_PORT: {"type": "table", "value": value}},
        "ContainerAllocationDurationMs": 0,
        "ExecutionDurationMs": elapsed_ms,
        "IsWarmContainer": True,
    }


def error_body(error: ModelyardError, status: int) -> dict[str, Any]:
    """Classic's error envelope, with modelyard's code, message and details beside it."""
    if error.code in _INPUT_CODES:
        kind, detail = ("BadUserArgument", "InputParseError")
        message = (
            "Parsing of input vector failed.  Verify the input vector has the correct number "
            f"of columns and data types.  Additional details: {error.message}"
        )
    else:
        kind, detail = _DETAILS.get(error.code) or _BY_STATUS.get(status) or _fallback(status)
        message = error.message
    item: dict[str, Any] = {"code": detail}
    target = error.details.get("target") or error.details.get("column")
    if target is not None:
        item["target"] = target
    item["message"] = message
    envelope = {"code": kind, "message": _CLASS_MESSAGES.get(kind, message), "details": [item]}
    return {"error": envelope, **error.to_dict()}


def _fallback(status: int) -> tuple[str, str]:
    if status >= 500:
        return ("InternalError", "InternalError")
    return ("BadArgument", "RequestBodyInvalid")


def _table(port: str, value: Any) -> Table:
    if isinstance(value, list):  # format=swagger: rows as objects
        if not all(isinstance(row, Mapping) for row in value):
            raise InvalidInput(
                f"Inputs.{port} must be a list of objects (format=swagger) or "
                '{"ColumnNames": [...], "Values": [[...]]}',
                code="bad_shape",
                target=port,
            )
        keys = list(dict.fromkeys(str(k) for row in value for k in row))
        return Table(port, keys, [[row.get(k) for k in keys] for row in value])
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f'Inputs.{port} must be {{"ColumnNames": [...], "Values": [[...]]}}',
            code="bad_shape",
            target=port,
        )
    names = value.get("ColumnNames")
    rows = value.get("Values")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(
            f"Inputs.{port}.ColumnNames must be a list of names", code="bad_shape", target=port
        )
    if not isinstance(rows, list):
        raise InvalidInput(f"Inputs.{port}.Values must be a list of rows", code="bad_shape")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise InvalidInput(
                f"row {i} has {got} values but ColumnNames has {len(names)}",
                code="bad_row_length",
                row=i,
                target=port,
            )
    return Table(port, names, rows)


def _blank_to_null(value: Any, name: str, signature: Signature | None) -> Any:
    """Classic sends an empty string for a missing value; it is null unless the column is text."""
    if value != "" or signature is None:
        return value
    spec = next((c for c in signature.inputs if c.name == name), None)
    return None if spec is not None and spec.dtype in _TYPES else value


def _scored(
    predictions: np.ndarray[Any, Any], classes: Sequence[Any] | None, label: str
) -> list[tuple[str, str, list[Any]]]:
    if classes is not None and predictions.ndim == 2:
        labels = [classes[i] for i in predictions.argmax(axis=1)]
        out = [(label, _type_of(np.asarray(classes)), labels)]
        if len(classes) == 2:
            return [*out, ("Scored Probabilities", "Double", predictions[:, 1].tolist())]
        return out + [
            (f'Scored Probabilities for Class "{c}"', "Double", predictions[:, j].tolist())
            for j, c in enumerate(classes)
        ]
    if predictions.ndim == 1:
        return [(label, _type_of(predictions), predictions.tolist())]
    flat = predictions.reshape(len(predictions), -1)
    return [(f"{label} {j}", _type_of(flat), flat[:, j].tolist()) for j in range(flat.shape[1])]


def _type_of(values: np.ndarray[Any, Any]) -> str:
    return {"f": "Double", "i": "Int64", "u": "Int64", "b": "Boolean"}.get(
        values.dtype.kind, "String"
    )


def _cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return str(value)


class ClassicCodec:
    """The codec of ``POST /endpoints/E/execute?api-version=2.0``."""

    name = "classic"

    def media(self, head: Head) -> str:
        """The query string (api-version 2.0, ``format``, ``details``), then JSON."""
        Options.parse(head.query)
        return require(head.headers.get("content-type"), (JSON,))

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """Checked columns of the input table, and the table and options to answer with."""
        table, columns = decode(parse_json(body), signature)
        return columns, (table, Options.parse(head.query))

    def encode(self, context: Any, result: Result) -> Encoded:
        """The output table (or rows, ``format=swagger``); the label column is the
        endpoint's first output name if it names its outputs."""
        table, options = context
        label = result.output_names[0] if result.output_names else LABEL
        document = encode(
            table,
            result.predictions,
            result.classes,
            result.signature,
            options,
            result.elapsed_ms,
            label,
        )
        return Encoded(dumps(document), MEDIA_TYPE)

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """Classic's error envelope."""
        return error_body(error, status)


CODEC = ClassicCodec()
