"""The codec contract: what a wire format does on the data plane, and nothing more.

One module per wire format (``azureml``, ``mlflow``, ``v2``, ``classic``) holds one
codec; the pipeline (:mod:`modelyard.serving.dataplane`) calls it in this order:

    media(head)                              -> 415 before the body is read
    decode(body, head, signature)            -> (columns, context)
    encode(context, result)                  -> (bytes, content type, headers)
    error_body(error, status)                -> the format's own error document

``columns`` are checked numpy columns by name (what a compiled scorer takes), or a
DataFrame where the format is a table (CSV, Parquet, Arrow) or the version has no
signature; ``context`` is whatever the codec needs again to answer (V2's request id
and asked outputs, classic's input table). Status codes are never a codec's business:
they come from the one error table (:mod:`modelyard.web.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from modelyard.errors import ModelyardError
from modelyard.types import Signature

Columns = pd.DataFrame | Mapping[str, Any]
"""Decoded rows: a checked DataFrame, or checked numpy columns by name."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which is
# most of the cost of building these on every request; none is changed once built.
@dataclass(slots=True)
class Head:
    """What a route knows of a request before its body: lower-cased headers, the query
    string and the path parameters (``version`` of ``/v2/models/E/versions/V/infer``)."""

    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    loopback: bool = False  # the connection arrived on a loopback address (keyless endpoints)
    admitted: str | None = None  # the endpoint whose key admission checked on these headers

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower case), if sent."""
        return self.headers.get(name)


@dataclass(slots=True)
class Result:
    """What an encoder gets: the predictions and where they came from."""

    endpoint: str
    predictions: np.ndarray[Any, Any]
    version: int
    model: str
    classes: Sequence[Any] | None
    signature: Signature | None
    output_names: Sequence[str] | None = None  # the endpoint's names for its outputs
    elapsed_ms: int = 0  # from the start of the request to the end of scoring


@dataclass(slots=True)
class Encoded:
    """An encoded answer: body, media type, any headers of the format's own."""

    body: bytes
    content_type: str
    headers: Sequence[tuple[str, str]] = ()


class Codec(Protocol):
    """A wire format on the data plane."""

    @property
    def name(self) -> str:
        """``azureml``, ``mlflow``, ``v2``, ``classic``: labels logs and metrics."""
        ...

    def media(self, head: Head) -> str:
        """The request's media type, refused (``UnsupportedMediaType``, 415) unless the
        format takes it; also the place to refuse a bad query string."""
        ...

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """The checked rows of ``body`` and the context ``encode`` needs."""
        ...

    def encode(self, context: Any, result: Result) -> Encoded:
        """The answer to a scored request."""
        ...

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """The format's own error document, or None for modelyard's ``{code, message}``."""
        ...
