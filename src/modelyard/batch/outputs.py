"""The rows a batch job writes: the key, the prediction columns, the model version, the
job id and when they were scored.

Prediction columns by what the model outputs: ``prediction`` (a regression, a class, a
raw single output), ``prediction_0…`` (several raw outputs), and for probabilities
``prediction`` (the most likely class) plus ``proba_<class>`` per class.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.types import OutputKind

META = ("model_version", "job_id", "scored_at")


def _safe(name: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def prediction_columns(
    predictions: np.ndarray[Any, Any], kind: OutputKind, classes: list[Any] | None
) -> dict[str, pa.Array]:
    """The prediction columns of one chunk's predictions."""
    if kind is OutputKind.PROBABILITIES and predictions.ndim == 2:
        labels = classes if classes is not None else list(range(predictions.shape[1]))
        choices = np.asarray(labels)
        best = choices[np.argmax(predictions, axis=1)] if len(predictions) else choices[:0]
        columns: dict[str, pa.Array] = {"prediction": pa.array(best)}
        for index, label in enumerate(labels):
            columns[f"proba_{_safe(label)}"] = pa.array(predictions[:, index], pa.float64())
        return columns
    if predictions.ndim == 2:
        return {f"prediction_{i}": pa.array(predictions[:, i]) for i in range(predictions.shape[1])}
    return {"prediction": pa.array(predictions)}


def output_table(
    keys: pa.ChunkedArray | pa.Array,
    key_name: str,
    predictions: dict[str, pa.Array],
    version: int,
    job_id: str,
    scored_at: datetime,
) -> pa.Table:
    """One chunk's output rows."""
    count = len(keys)
    columns: dict[str, Any] = {key_name: keys, **predictions}
    columns["model_version"] = pa.array(np.full(count, version, dtype="int64"))
    columns["job_id"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(count, dtype="int32")), pa.array([job_id], pa.string())
    ).cast(pa.string())
    micros = int(scored_at.timestamp() * 1_000_000)
    stamps = pa.array(np.full(count, micros, dtype="int64"))
    columns["scored_at"] = stamps.cast(pa.timestamp("us", tz="UTC"))
    return pa.table(columns)
