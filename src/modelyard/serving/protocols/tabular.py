"""Azure ML v1 request bodies: ``{"data": rows}`` or one of MLflow's four JSON shapes
(read by MLflow's one decoder, :func:`modelyard.serving.protocols.mlflow.read_shape`),
CSV, Parquet and Arrow stream. All decode to checked columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.serving.frame import rows_of
from modelyard.serving.protocols.codec import Columns
from modelyard.serving.protocols.common import parse_json
from modelyard.serving.protocols.mlflow import FORMATS, read_shape
from modelyard.serving.protocols.tables import READERS, read_table
from modelyard.types import Signature

KEYS = ("data", *FORMATS)


def decode_body_columns(body: bytes, kind: str, signature: Signature | None) -> Columns:
    """Checked columns of a body of media type ``kind`` (JSON, CSV, Parquet or Arrow)."""
    if kind in READERS:
        return read_table(body, kind, signature)
    return decode_document(parse_json(body), signature)


def decode_document(document: Any, signature: Signature | None) -> Columns:
    """Checked columns of a JSON document: ``{"data": rows}`` or an MLflow shape."""
    if type(document) is dict and len(document) == 1 and "data" in document:  # the usual
        return rows_of(document["data"], signature)
    if not isinstance(document, Mapping):
        kind = "a list" if isinstance(document, list) else type(document).__name__
        raise InvalidInput(
            f"the body must be a JSON object with one of {', '.join(KEYS)}; received {kind}",
            code="bad_shape",
        )
    keys = [k for k in KEYS if k in document]
    if len(keys) != 1:
        found = ", ".join(sorted(str(k) for k in document)) or "none"
        raise InvalidInput(
            f"the body must have exactly one of {', '.join(KEYS)}; it has: {found}",
            code="bad_shape",
        )
    key = keys[0]
    if key == "data":
        return rows_of(document[key], signature)
    return read_shape(key, document[key], signature)
