"""MLflow's scoring protocol, as ``mlflow models serve`` speaks it (MLflow 2.x and 3.x).

Content types and their 415s, the four JSON shapes (``dataframe_split`` with its
optional ``index``, ``dataframe_records``, ``instances``, ``inputs``) with optional
``params``, CSV and Parquet in; ``{"predictions": …}`` out; errors as MLflow's
``{"error_code", "message"}``. Messages about the request itself are MLflow's own
words, so a client that matches on them keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from modelyard.errors import InvalidInput, ModelyardError, UnsupportedMediaType
from modelyard.serving.frame import columns_of, rows_of
from modelyard.serving.protocols.codec import Columns, Encoded, Head, Result
from modelyard.serving.protocols.common import CSV, JSON, PARQUET, dumps, jsonable, named
from modelyard.serving.protocols.tables import read_table
from modelyard.types import Signature

CONTENT_TYPES = (CSV, JSON, PARQUET)
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)
SCORING_PROTOCOL_CHANGE_INFO = (
    "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are"
    " seeing this error, you are likely using an outdated scoring request format. To resolve the"
    " error, either update your request format or adjust your MLflow Model's requirements file to"
    " specify an older version of MLflow (for example, change the 'mlflow' requirement specifier"
    " to 'mlflow==1.30.0'). If you are making a request using the MLflow client"
    " (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in"
    " order to use the new request format. For more information about the updated MLflow"
    " Model scoring protocol in MLflow 2.0, see"
    " https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
)
PING_BODY = "\n"  # what MLflow's /ping and /health answer

_ERROR_CODES = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def content_kind(content_type: str | None) -> str:
    """The media type of an ``/invocations`` request, or a 415 in MLflow's words.

    MLflow's order: a charset other than utf-8, then any other parameter (the 1.x
    ``format=pandas-split``), then a type other than JSON, CSV or Parquet. A missing
    Content-Type is a 415 too (MLflow answers it with a 500).
    """
    if not content_type or not content_type.strip():
        raise UnsupportedMediaType(_types_message("no Content-Type header"), accepted=_accepted())
    kind, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for pair in rest.split(";"):
        key, _, value = pair.strip().partition("=")
        if key:
            params[key] = value.strip()
    if params.get("charset", "utf-8").lower() != "utf-8":
        raise UnsupportedMediaType("The scoring server only supports UTF-8")
    unexpected = sorted(set(params) - {"charset"})
    if unexpected:
        raise UnsupportedMediaType(
            f"Unrecognized content type parameters: {', '.join(unexpected)}. "
            f"{SCORING_PROTOCOL_CHANGE_INFO}"
        )
    kind = kind.strip().lower()
    if kind not in CONTENT_TYPES:
        raise UnsupportedMediaType(_types_message(repr(content_type)), accepted=_accepted())
    return kind


def decode(body: bytes, kind: str, signature: Signature | None) -> Columns:
    """A checked frame from an ``/invocations`` body of media type ``kind``.

    ``params`` must be an object when present; they are accepted and not passed on
    (modelyard's flavours take no inference parameters, as an MLflow model whose
    ``predict`` has no ``params`` argument).
    """
    if kind != JSON:
        return read_table(body, kind, signature)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"Invalid input. Ensure that input is a valid JSON formatted string. Error: '{exc}'",
            code="invalid_json",
        ) from None
    if isinstance(document, list):
        raise InvalidInput(
            f"Invalid input. {REQUIRED_INPUT_FORMAT}. Received a list.", code="bad_shape"
        )
    if not isinstance(document, Mapping):
        raise InvalidInput(
            f"Invalid input. {REQUIRED_INPUT_FORMAT}. "
            f"Received unexpected input type '{type(document)}'.",
            code="bad_shape",
        )
    present = [key for key in document if key in FORMATS]
    if len(present) != 1:
        raise InvalidInput(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {present}. "
            f"{SCORING_PROTOCOL_CHANGE_INFO}",
            code="bad_shape",
        )
    if "signature_name" in document:
        raise InvalidInput(
            'Invalid input. "signature_name" parameter is currently not supported',
            code="bad_shape",
        )
    params = document.get("params")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput(
            f"Invalid input. params must be a dictionary, got {type(params).__name__}",
            code="bad_shape",
        )
    return read_shape(present[0], document[present[0]], signature)


def read_shape(key: str, value: Any, signature: Signature | None) -> Columns:
    """The checked columns of MLflow shape ``key`` (one of ``FORMATS``) holding ``value``:
    the one reader of these shapes, for ``/invocations`` and Azure ML's ``/score`` alike
    (a ``dataframe_split`` row with more or fewer values than columns is refused)."""
    if key == "dataframe_split":
        return _split(value, signature)
    if key == "inputs" and isinstance(value, Mapping):
        return columns_of({str(k): _as_list(v) for k, v in value.items()}, signature)
    if not isinstance(value, list):
        raise InvalidInput(
            f"Invalid input. {key} must be a list of rows"
            + (" or an object of columns" if key == "inputs" else ""),
            code="bad_shape",
        )
    return rows_of(_rows(value, signature), signature)


def encode(predictions: np.ndarray[Any, Any]) -> dict[str, Any]:
    """The response document: ``{"predictions": [...]}``."""
    return {"predictions": jsonable(predictions)}


def error_body(error: ModelyardError, status: int) -> dict[str, Any]:
    """MLflow's error body, with modelyard's ``code`` and details beside it."""
    if status >= 500 and status not in _ERROR_CODES:
        error_code = "INTERNAL_ERROR"
    elif error.code == "missing_column":
        error_code = "INVALID_PARAMETER_VALUE"
    else:
        error_code = _ERROR_CODES.get(status, "BAD_REQUEST")
    return {"error_code": error_code, **error.to_dict()}


def _split(value: Any, signature: Signature | None) -> Columns:
    """``orient="split"``: ``{"columns": [...], "data": [[...]], "index": [...]}``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("data"), list):
        raise InvalidInput(
            'Invalid input. dataframe_split needs {"columns": [...], "data": [[...]]} '
            '(and optionally "index")',
            code="bad_shape",
        )
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise InvalidInput(
            f"Invalid input. dataframe_split has unknown keys {unknown}: "
            "use columns, data and index",
            code="bad_shape",
        )
    rows = value["data"]
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(rows)):
        shown = len(index) if isinstance(index, list) else type(index).__name__
        raise InvalidInput(
            f"Invalid input. dataframe_split has {len(rows)} rows but its index has {shown} "
            "entries",
            code="bad_shape",
        )
    columns = value.get("columns")
    if columns is None:
        return rows_of(_rows(rows, signature), signature)
    if not isinstance(columns, list) or not all(isinstance(c, str | int | float) for c in columns):
        raise InvalidInput(
            "Invalid input. dataframe_split.columns must be a list of column names",
            code="bad_shape",
        )
    records = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise InvalidInput(
                f"row {i} has {got} values but dataframe_split has {len(columns)} columns",
                code="bad_row_length",
                row=i,
            )
        records.append(dict(zip(columns, row, strict=True)))
    return rows_of(records, signature)


def _rows(values: list[Any], signature: Signature | None) -> list[Any]:
    """Rows as given; bare scalars are the rows of a one-column model (TF-serving style)."""
    single = signature is not None and len(signature.inputs) == 1
    if single and values and not any(isinstance(v, list | tuple | Mapping) for v in values):
        return [[v] for v in values]
    return values


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _types_message(got: str) -> str:
    return (
        "This predictor only supports the following content types: "
        f"Types: {list(CONTENT_TYPES)}. Got {got}."
    )


def _accepted() -> list[str]:
    return list(CONTENT_TYPES)


class MLflowCodec:
    """The codec of ``/invocations`` (under ``/endpoints/E/`` or, for one endpoint, at the
    root)."""

    name = "mlflow"

    def media(self, head: Head) -> str:
        """JSON, CSV or Parquet, UTF-8, no other parameter; else 415 in MLflow's words."""
        return content_kind(head.headers.get("content-type"))

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """Checked columns of the body."""
        return decode(body, self.media(head), signature), None

    def encode(self, context: Any, result: Result) -> Encoded:
        """``{"predictions": [...]}``; with output names, records by those names (what an
        MLflow model answering a dict or a DataFrame sends)."""
        predictions = jsonable(result.predictions)
        if result.output_names:
            predictions = named(predictions, result.output_names)
        return Encoded(dumps({"predictions": predictions}), JSON)

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """MLflow's ``{"error_code", "message"}``."""
        return error_body(error, status)


CODEC = MLflowCodec()
