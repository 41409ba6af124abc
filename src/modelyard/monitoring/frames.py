"""Collected JSON back into columns, in bulk: one Arrow JSON read for a whole window
(multi-threaded, in C++), not one ``json.loads`` per row."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

Array = np.ndarray[Any, Any]


def json_frame(texts: Sequence[str | None] | bytes, *, flatten: bool = False) -> pd.DataFrame:
    """One row per JSON object of ``texts`` (None rows give nulls), or per line of a
    newline-delimited blob; columns by key. ``flatten`` makes nested objects' keys
    columns of their own (``proba.1``)."""
    if not texts:
        return pd.DataFrame()
    if isinstance(texts, bytes):
        blob = texts
    else:
        blob = "\n".join([t if t else "{}" for t in texts]).encode()
    try:
        table = pa_json.read_json(io.BytesIO(blob))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # keys whose type changes
        records = orjson.loads(b"[" + blob.replace(b"\n", b",") + b"]")
        return pd.json_normalize(records) if flatten else pd.DataFrame.from_records(records)
    if flatten:
        while any(pa.types.is_struct(t) for t in table.schema.types):
            table = table.flatten()
    return pd.DataFrame({name: _column(table.column(name)) for name in table.column_names})


def _column(column: pa.ChunkedArray) -> Any:
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return column.to_numpy(zero_copy_only=False).astype("float64", copy=False)
    if pa.types.is_nested(kind):
        return pd.Series(column.to_pylist(), dtype=object)
    return column.to_pandas()


def outputs_frame(texts: Sequence[str | None] | bytes) -> pd.DataFrame:
    """Collected outputs: a ``prediction`` column and, for classifiers, ``proba.<class>``
    columns (the probability of each class)."""
    return json_frame(texts, flatten=True)
