"""A chunk of input rows (Arrow) as the checked numpy columns a scorer takes, and the rows
that cannot be scored, by key.

A row is malformed when a column the model needs no nulls in is null, or a value does not
convert to the column's type (text where a number is expected); the others are scored.
A column the model needs that the input lacks fails the whole job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.errors import InvalidInput
from modelyard.types import ColumnSpec, Signature

_NUMERIC = {"int64", "float64"}


@dataclass(frozen=True)
class Malformed:
    """One row left unscored: its key and why."""

    key: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """``{"key", "reason"}``."""
        return {"key": self.key, "reason": self.reason}


def check_columns(names: Sequence[str], signature: Signature | None) -> None:
    """Raise InvalidInput (``missing_column``) if the input lacks a column the model needs."""
    if signature is None:
        return
    missing = [c for c in signature.names if c not in names]
    if missing:
        raise InvalidInput(
            f"the input has no column {', '.join(missing)}: the model expects "
            f"{', '.join(signature.names)} (the query returns {', '.join(names)})",
            code="missing_column",
            column=missing[0],
            expected=signature.names,
        )


def checked(
    chunk: pa.Table, signature: Signature | None, key: str
) -> tuple[dict[str, np.ndarray[Any, Any]] | pd.DataFrame, np.ndarray[Any, Any], list[Malformed]]:
    """(columns to score, the mask of rows scored, the rows left out with reasons)."""
    keys = chunk.column(key).to_pylist()
    if signature is None:
        frame = chunk.drop_columns([key]).to_pandas()
        return frame, np.ones(chunk.num_rows, dtype=bool), []
    good = np.ones(chunk.num_rows, dtype=bool)
    reasons: dict[int, str] = {}
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for spec in signature.inputs:
        values, bad = _column(chunk.column(spec.name), spec)
        for index in np.flatnonzero(bad):
            reasons.setdefault(int(index), f"column {spec.name}: {_why(spec)}")
        good &= ~bad
        columns[spec.name] = values
    malformed = [Malformed(keys[i], reasons[i]) for i in sorted(reasons)]
    if malformed:
        columns = {name: values[good] for name, values in columns.items()}
    for spec in signature.inputs:
        if spec.dtype == "int64" and columns[spec.name].dtype.kind == "f":
            array = columns[spec.name]
            if not np.isnan(array).any() and np.all(array == np.round(array)):
                columns[spec.name] = array.astype("int64")
    return columns, good, malformed


def _why(spec: ColumnSpec) -> str:
    expected = {"int64": "a number", "float64": "a number", "bool": "true or false"}
    return f"expected {expected.get(spec.dtype, 'a ' + spec.dtype)}, got null or another type"


def _column(
    column: pa.ChunkedArray, spec: ColumnSpec
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The column's values for ``spec`` and the mask of values that do not fit it."""
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if spec.dtype in _NUMERIC:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            numbers = pd.to_numeric(pd.Series(column.to_pylist(), dtype=object), errors="coerce")
            values = numbers.to_numpy(dtype="float64")
        else:
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            values = np.asarray(values, dtype="float64")
        bad = ~np.isfinite(values) & ~(np.isnan(values) & nulls)
        if not spec.nullable:
            bad |= np.isnan(values)
        whole = not np.isnan(values).any() and np.all(values == np.round(values))
        if spec.dtype == "int64" and whole:
            return values.astype("int64"), bad
        return values, bad
    if spec.dtype == "bool":
        values = np.asarray(column.to_pandas().fillna(False).astype(bool).to_numpy())
        return values, nulls
    if spec.dtype == "datetime":
        series = pd.to_datetime(column.to_pandas(), errors="coerce")
        bad = np.asarray(series.isna().to_numpy()) & (~nulls | (not spec.nullable))
        return np.asarray(series.to_numpy()), bad
    if pa.types.is_string(column.type):
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    else:
        values = np.array([None if v is None else str(v) for v in column.to_pylist()], dtype=object)
    bad = nulls if not spec.nullable else np.zeros(len(values), dtype=bool)
    return values, bad
