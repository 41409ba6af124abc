"""Collected JSON back into columns, in bulk: one Arrow JSON read for many rows
(multi-threaded, in C++), not one ``json.loads`` per row."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json


def json_frame(texts: Sequence[str | None]) -> pd.DataFrame:
    """One row per JSON object of ``texts`` (None gives a row of nulls), columns by key."""
    if not texts:
        return pd.DataFrame()
    blob = "\n".join([t if t else "{}" for t in texts]).encode()
    try:
        table = pa_json.read_json(io.BytesIO(blob))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # keys whose type changes
        return pd.DataFrame.from_records(orjson.loads(b"[" + blob.replace(b"\n", b",") + b"]"))
    return pd.DataFrame({name: _column(table.column(name)) for name in table.column_names})


def _column(column: pa.ChunkedArray) -> Any:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.to_numpy(zero_copy_only=False)
    if pa.types.is_nested(column.type):
        return pd.Series(column.to_pylist(), dtype=object)
    return column.to_pandas()
