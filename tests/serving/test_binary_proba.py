"""A compiled binary classifier's probabilities: ``[1 - p, p]`` per row, the same values and
dtype as stacking the two columns, in a C-ordered array."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.serving.compile.trees import _proba


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 5])
def test_binary_probabilities_pair_each_p_with_its_complement(dtype: type, rows: int) -> None:
    raw = np.linspace(0.1, 0.9, rows).astype(dtype)
    out = _proba(2)(raw)
    assert out.dtype == np.dtype(dtype) and out.shape == (rows, 2) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.vstack((1.0 - raw, raw)).transpose())


def test_rows_already_in_two_columns_pass_as_they_are() -> None:
    raw = np.array([[0.3, 0.7]], dtype=np.float32)
    assert _proba(2)(raw) is raw
