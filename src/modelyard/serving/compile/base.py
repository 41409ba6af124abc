"""What a compiled scorer is, what it reads, and how it hands a request back to the original.

A compiled scorer reads the columns it needs as numpy arrays by name (or from a
DataFrame), builds the matrix the fitted pipeline would have built, and runs the final
estimator on it. Any input it does not reproduce exactly (a float32 column, an unknown
category the encoder would reject, a missing column) raises :class:`NeedsOriginal`,
and the caller scores that request with the original model, errors included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Array = np.ndarray[Any, Any]
Columns = Mapping[str, Array]
# The final estimator, given the matrix the pipeline's transformers would have made.
Kernel = Callable[[Array], Array]
# Columns (and their row count) to the matrix.
Stage = Callable[[Columns, int], Array]

TOLERANCE = 1e-6

# Column access by position without building a Series per column: pandas 2 and 3 have
# it, and it is ten times cheaper than ``frame[name]`` for a one-row frame.
_column_array: Callable[[pd.DataFrame, int], Any] | None = getattr(
    pd.DataFrame, "_get_column_array", None
)


class NeedsOriginal(Exception):  # control flow: never reaches a caller
    """This input is outside what the compiled scorer reproduces: score it with the original."""


class Unsupported(Exception):  # caught by the compiler, which keeps the reason
    """A step or an estimator the compiler does not reproduce; the message says which."""


@dataclass(frozen=True)
class Fallback:
    """Why a version runs its original model; ``path`` is always ``"original"``."""

    reason: str
    path: str = "original"


@dataclass(frozen=True, eq=False)
class Compiled:
    """A fast scorer equal to the original model within 1e-6 on the rows it was checked on.

    ``path`` names what runs (``numpy+onnxruntime``, ``numpy+xgboost-inplace``,
    ``numpy-linear``); ``method`` is the original's method it stands for
    (``predict`` or ``predict_proba``); ``max_diff`` the largest absolute difference
    seen on the ``rows`` verification rows.
    """

    path: str
    method: str
    inputs: tuple[str, ...]
    max_diff: float
    rows: int
    stage: Stage = field(repr=False)
    kernel: Kernel = field(repr=False)
    # For a bare estimator fitted on a DataFrame: the exact column order it checks.
    strict_names: tuple[str, ...] | None = field(default=None, repr=False)

    def __call__(self, data: Columns | pd.DataFrame) -> Array:
        """The original's output for ``data``; raises NeedsOriginal for inputs it cannot do."""
        if isinstance(data, pd.DataFrame):
            columns, rows = frame_columns(data, self.inputs, self.strict_names)
            return self.kernel(self.stage(columns, rows))
        return self.kernel(self.stage(data, _rows(data, self.inputs)))


def frame_columns(
    frame: pd.DataFrame, names: tuple[str, ...], strict: tuple[str, ...] | None = None
) -> tuple[dict[str, Array], int]:
    """The ``names`` columns of ``frame`` as arrays, and its row count."""
    labels = frame.columns
    if strict is not None and tuple(labels) != strict:
        raise NeedsOriginal("the frame's columns differ from the ones the model was fitted on")
    out: dict[str, Array] = {}
    for name in names:
        try:
            position = labels.get_loc(name)
        except KeyError:
            raise NeedsOriginal(f"missing column {name}") from None
        if not isinstance(position, int):
            raise NeedsOriginal(f"column {name} appears more than once")
        values = _column_array(frame, position) if _column_array is not None else frame[name].array
        out[name] = values if isinstance(values, np.ndarray) else values.to_numpy()
    return out, len(frame)


def _rows(columns: Columns, names: tuple[str, ...]) -> int:
    count = -1
    for name in names:
        values = columns.get(name)
        if type(values) is not np.ndarray:  # a missing column, or not an array
            if values is None:
                raise NeedsOriginal(f"missing column {name}")
            if not isinstance(values, np.ndarray):
                raise NeedsOriginal(f"column {name} is not a one-dimensional numpy array")
        if values.ndim != 1:
            raise NeedsOriginal(f"column {name} is not a one-dimensional numpy array")
        length = values.shape[0]
        if count != length:
            if count >= 0:
                raise NeedsOriginal("columns have different lengths")
            count = length
    if count < 0:
        raise NeedsOriginal("columns have different lengths")  # no column: as before
    return int(count)
