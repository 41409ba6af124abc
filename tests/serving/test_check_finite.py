"""Predictions that are not finite numbers are refused with the first bad row named, on
the plain-Python path for a few values and numpy's for many."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.errors import InvalidInput
from modelyard.serving.scorer import FEW_VALUES, check_finite


@pytest.mark.parametrize("size", [1, 2, FEW_VALUES, FEW_VALUES + 1, 1000])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_first_row_not_finite_is_named(size: int, bad: float) -> None:
    predictions = np.ones(size, dtype=np.float32)
    check_finite(predictions, "m:1")  # all finite: nothing said
    predictions[size // 2] = bad
    with pytest.raises(InvalidInput) as refused:
        check_finite(predictions, "m:1")
    assert refused.value.code == "prediction_not_finite"
    assert f"row {size // 2}" in refused.value.message


def test_class_probabilities_and_other_kinds() -> None:
    probabilities = np.array([[0.2, 0.8], [0.5, np.nan]])
    with pytest.raises(InvalidInput, match="row 1"):
        check_finite(probabilities, "m:1")
    with pytest.raises(InvalidInput, match="row 0"):
        check_finite(np.array([complex(np.inf, 0)]), "m:1")
    check_finite(np.array([1, 2]), "m:1")  # integers are always finite
    check_finite(np.array(["yes", "no"], dtype=object), "m:1")  # labels are not numbers
