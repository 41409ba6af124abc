"""Comparing two answers to the same rows: agreement of classes, differences of numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.serving.scorer import Scored
from modelyard.storage.comparisons import CLASSES, NUMBERS


@dataclass(frozen=True)
class Difference:
    """How two answers to the same rows differ."""

    kind: str  # CLASSES or NUMBERS
    rows: int
    agreed: int  # classes: rows with the same class
    abs_diff_sum: float  # numbers: sum over rows of the largest absolute difference
    abs_diff_max: float


def compare(answered: Scored, mirrored: Scored) -> Difference:
    """``answered`` against ``mirrored``: probabilities and labels compare by class (the
    most probable one), numbers by absolute difference (per row, the largest over outputs).
    Raises ``ValueError`` if the two do not have the same number of rows."""
    a, b = _classes_or_numbers(answered), _classes_or_numbers(mirrored)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} rows answered, {len(b)} mirrored")
    if a.dtype.kind in "fc" and b.dtype.kind in "fc" and answered.classes is None:
        gap = np.abs(a.astype(float) - b.astype(float))
        per_row = gap.reshape(len(gap), -1).max(axis=1) if gap.ndim > 1 else gap
        total = float(per_row.sum()) if len(per_row) else 0.0
        largest = float(per_row.max()) if len(per_row) else 0.0
        return Difference(NUMBERS, len(per_row), 0, total, largest)
    same = [x == y for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    return Difference(CLASSES, len(same), sum(bool(s) for s in same), 0.0, 0.0)


def _classes_or_numbers(scored: Scored) -> np.ndarray[Any, Any]:
    predictions = np.asarray(scored.predictions)
    if scored.classes is not None and predictions.ndim == 2:  # probabilities: the top class
        top: np.ndarray[Any, Any] = np.asarray(scored.classes, dtype=object)[
            predictions.argmax(axis=1)
        ]
        return top
    return predictions
