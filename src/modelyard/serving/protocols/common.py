"""What every codec shares: content types, JSON parsing, JSON-ready predictions."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from modelyard.errors import InvalidInput, UnsupportedMediaType
from modelyard.serving.offload import FEW_VALUES

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
ARROW = "application/vnd.apache.arrow.stream"


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``application/json; charset=utf-8`` -> (``application/json``, {"charset": "utf-8"})."""
    if not content_type:
        return "", {}
    kind, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


@functools.lru_cache(maxsize=256)
def require(content_type: str | None, allowed: tuple[str, ...], *, default: str = JSON) -> str:
    """The media type of the request, refused with 415 unless in ``allowed`` (cached: the
    same few Content-Type values come again and again)."""
    kind, params = media_type(content_type)
    kind = kind or default
    if kind not in allowed:
        raise UnsupportedMediaType(
            f"content type {kind!r} is not accepted here: send one of {', '.join(allowed)}",
            accepted=list(allowed),
        )
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"charset {charset!r} is not accepted: send UTF-8")
    return kind


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; a clear 400 otherwise."""
    if not body.strip():
        raise InvalidInput("the request body is empty: send a JSON document", code="invalid_json")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from None


def jsonable(values: np.ndarray[Any, Any]) -> list[Any]:
    """Predictions as plain JSON values (NaN becomes null)."""
    if values.dtype.kind == "f" and _has_nan(values):
        return [None if v is None or v != v else v for v in values.astype(object).tolist()]
    out: list[Any] = values.tolist()
    return out


def _has_nan(values: np.ndarray[Any, Any]) -> bool:
    if values.size <= FEW_VALUES:
        return any(map(math.isnan, values.ravel().tolist()))
    return bool(np.isnan(values).any())


def dumps(document: Any) -> bytes:
    """Serialise a response body."""
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def named(predictions: list[Any], names: Sequence[str]) -> list[dict[str, Any]]:
    """Predictions as records by output name: one name per prediction value, or per
    column of a row of values (probabilities)."""
    records = []
    for value in predictions:
        values = value if isinstance(value, list) else [value]
        records.append(dict(zip(names, values, strict=False)))
    return records
