"""Azure ML v1 ``/score``: JSON (``{"data": rows}`` or one of MLflow's shapes), CSV,
Parquet and Arrow stream in; ``{"predictions": [...]}`` (and ``classes`` for
probabilities) out; errors as modelyard's ``{code, message}``."""

from __future__ import annotations

from typing import Any

from modelyard.errors import ModelyardError
from modelyard.serving.protocols.codec import Columns, Encoded, Head, Result
from modelyard.serving.protocols.common import (
    ARROW,
    CSV,
    JSON,
    PARQUET,
    dumps,
    jsonable,
    named,
    require,
)
from modelyard.serving.protocols.tabular import decode_body_columns
from modelyard.types import Signature

MEDIA_TYPES = (JSON, CSV, PARQUET, ARROW)


class AzureMLCodec:
    """The codec of ``POST /endpoints/E/score``."""

    name = "azureml"

    def media(self, head: Head) -> str:
        """JSON (the default), CSV, Parquet or Arrow stream, UTF-8; else 415."""
        return require(head.headers.get("content-type"), MEDIA_TYPES)

    def decode(self, body: bytes, head: Head, signature: Signature | None) -> tuple[Columns, Any]:
        """Checked columns of the rows in ``body``."""
        return decode_body_columns(body, self.media(head), signature), None

    def encode(self, context: Any, result: Result) -> Encoded:
        """``{"predictions": [...]}``, ``classes`` beside probabilities; with output names,
        each prediction is a record by those names."""
        predictions = jsonable(result.predictions)
        names = result.output_names
        if names:
            predictions = named(predictions, names)
        document: dict[str, Any] = {"predictions": predictions}
        if result.classes is not None:
            document["classes"] = result.classes
        return Encoded(dumps(document), JSON)

    def error_body(self, error: ModelyardError, status: int) -> dict[str, Any] | None:
        """Modelyard's own ``{code, message, ...}``."""
        return None


CODEC = AzureMLCodec()
