"""Predictions as JSON values: NaN becomes null whatever the size (a few values are
checked in plain Python, more with numpy), everything else is kept as it is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.serving.offload import FEW_VALUES
from modelyard.serving.protocols.common import jsonable


@pytest.mark.parametrize("size", [1, 3, FEW_VALUES, FEW_VALUES + 1, 500])
def test_nan_becomes_null_at_any_size(size: int) -> None:
    values = np.arange(size, dtype=np.float64)
    assert jsonable(values) == values.tolist()
    values[size // 2] = np.nan
    out = jsonable(values)
    assert out[size // 2] is None and out.count(None) == 1
    assert all(isinstance(v, float) and not math.isnan(v) for v in out if v is not None)


def test_probabilities_keep_their_rows() -> None:
    probabilities = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    assert jsonable(probabilities) == [[0.25, 0.75], [0.5, 0.5]]
    assert jsonable(np.array([1, 2])) == [1, 2]
    assert jsonable(np.array(["a", "b"], dtype=object)) == ["a", "b"]
