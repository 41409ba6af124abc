"""An observation: one request as the collection store keeps it (its rows, inputs and
outputs), from an entry script's answer or collector, a refused request, the SDK, or a
model endpoint's scored request once the writer process has read it back
(``monitoring.wire``: the serving process writes a scored request as JSON at once and
builds no observation for it); turning observations into rows, with inputs and outputs as
JSON, and into columnar blocks is the writer process's work (``monitoring.writer``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

Array = np.ndarray[Any, Any]
SOURCES = ("model", "script", "collector")
IN, OUT = "in:", "out:"  # the prefixes of input and output columns in a batch


def as_column(values: Any) -> Array:
    """A column as numpy, as the data plane decodes one: numbers as numbers (missing ones
    NaN), text and mixed values as objects (a list from a JSON record, or an array)."""
    if isinstance(values, np.ndarray):
        return values
    values = list(values)
    array = np.asarray(values) if values else np.asarray(values, dtype="float64")
    if array.dtype.kind in "US":
        return np.asarray(values, dtype=object)
    if array.dtype == object and all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    ):
        return np.asarray([np.nan if v is None else v for v in values], dtype="float64")
    return array


def sampled(rate: float) -> bool:
    """Whether to collect this request at ``rate`` (0 to 1)."""
    return rate >= 1.0 or (rate > 0.0 and random.random() < rate)  # noqa: S311  # sampling


@dataclass(slots=True)  # not frozen: a frozen dataclass takes 10x longer to build
class Observation:
    """One request as the collector stores it (one row per scored row); not changed once
    offered.

    ``inputs``: the decoded columns (numpy arrays by name, or a DataFrame) or, from an
    entry script's collector, a list of row dicts. ``outputs``: the predictions (one value
    per row, or a row of class probabilities named by ``classes``). Both None for a request
    seen only from outside (an entry script's answer, a refused request).
    """

    endpoint: str
    request_id: str
    scored_at: datetime
    source: str = "model"
    status: int = 200
    latency_ms: float | None = None
    model: str | None = None
    version: int | None = None
    alias: str | None = None
    inputs: Mapping[str, Any] | pd.DataFrame | Sequence[Mapping[str, Any]] | None = None
    outputs: Array | None = None
    classes: Sequence[Any] | None = None
    error_code: str | None = None
    designation: str = ""

    @property
    def rows(self) -> int:
        """How many rows this request stores."""
        if self.outputs is not None:
            return max(1, len(self.outputs))
        if self.inputs is None:
            return 1
        if isinstance(self.inputs, pd.DataFrame | Sequence):
            return max(1, len(self.inputs))
        return max(1, len(next(iter(self.inputs.values()), ())))

    def columns(self) -> dict[str, Array]:
        """Its inputs (``in:<feature>``) and outputs (``out:prediction``,
        ``out:proba.<class>``) as numpy columns of ``rows`` values."""
        return {**self._inputs(), **self._outputs()}

    def _inputs(self) -> dict[str, Array]:
        inputs = self.inputs
        if inputs is None:
            return {}
        if isinstance(inputs, pd.DataFrame):
            return {IN + str(k): inputs[k].to_numpy() for k in inputs.columns}
        if isinstance(inputs, Sequence):
            frame = pd.DataFrame.from_records([dict(r) for r in inputs])
            return {IN + str(k): frame[k].to_numpy() for k in frame.columns}
        return {IN + str(k): as_column(v) for k, v in inputs.items()}

    def _outputs(self) -> dict[str, Array]:
        return {} if self.outputs is None else output_columns(self.outputs, self.classes)


def output_columns(predictions: Any, classes: Sequence[Any] | None) -> dict[str, Array]:
    """``out:prediction`` (the most probable class, for class probabilities) and
    ``out:proba.<class>`` columns of predictions."""
    values = as_column(predictions)
    if values.ndim == 2 and classes is not None and values.shape[1] == len(classes):
        out = {OUT + "prediction": np.asarray(classes, dtype=object)[values.argmax(axis=1)]}
        for j, name in enumerate(classes):
            out[f"{OUT}proba.{name}"] = values[:, j].astype("float64")
        return out
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return {OUT + "prediction": values} if values.ndim == 1 else {}
