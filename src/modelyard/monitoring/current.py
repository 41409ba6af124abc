"""A feature's current values as the drift methods use them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.monitoring.profile import value_key

Array = np.ndarray[Any, Any]


class Current:
    """A feature's current values (nulls left out) as the methods use them: the numbers of
    a numeric feature, and how many times each value occurs, named as the reference names
    its categories (``value_key`` for numbers). Built from Arrow, numpy or pandas columns;
    categories are counted in Arrow, never turned into a Python string each."""

    def __init__(self, entry: Mapping[str, Any], values: Any) -> None:
        self.numeric = entry.get("kind") == "numeric"
        column = values if isinstance(values, pa.Array | pa.ChunkedArray) else _arrow(values)
        column = column.drop_null()
        self._column = column
        self._counts: dict[str, int] | None = None
        if self.numeric:
            self.numbers = _floats(column)
            self.size = int(self.numbers.size)
        else:
            self.numbers = np.array([], dtype="float64")
            self.size = len(column)

    @property
    def counts(self) -> dict[str, int]:
        """Each value's count."""
        if self._counts is None:
            if self.numeric:
                seen, tally = np.unique(self.numbers, return_counts=True)
                self._counts = {value_key(v): int(n) for v, n in zip(seen, tally, strict=True)}
            else:
                text = (
                    pc.cast(self._column, pa.string())
                    if self._column.type != pa.string()
                    else self._column
                )
                found = pc.value_counts(text)
                self._counts = dict(
                    zip(
                        found.field("values").to_pylist(),
                        found.field("counts").to_pylist(),
                        strict=True,
                    )
                )
        return self._counts


def _arrow(values: Any) -> pa.ChunkedArray:
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    try:
        return pa.chunked_array([pa.array(series, from_pandas=True)])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.chunked_array([pa.array(series.astype(str), from_pandas=True)])


def _floats(column: pa.ChunkedArray) -> Array:
    """Numbers as float64; text that is no number counts as missing."""
    numbers: Array
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        numbers = np.asarray(column.to_numpy(), dtype="float64")
    elif pa.types.is_boolean(column.type):
        numbers = np.asarray(column.to_numpy(zero_copy_only=False), dtype="float64")
    else:
        text = pd.Series(column.to_pylist())
        numbers = np.asarray(pd.to_numeric(text, errors="coerce"), dtype="float64")
    kept: Array = numbers[~np.isnan(numbers)]
    return kept
