"""A request's numeric columns: the few-values path (plain Python, one numpy call) gives
exactly what the numpy path gives, or refuses exactly where it refuses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.serving import frame
from modelyard.types import ColumnSpec

EDGES = [
    2**53 + 1,
    2**53,
    2**53 - 1,
    -(2**53),
    -(2**53) - 1,
    2**63,
    2**63 - 1,
    -(2**63),
    -(2**63) - 1,
    10**400,
    -0.0,
    1e308,
    1e19,
]
values = st.lists(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(EDGES),
        st.booleans(),
        st.none(),
        st.text(max_size=3),
    ),
    max_size=frame._FEW,
)


def _numpy_path(column: list[Any], spec: ColumnSpec) -> Any:
    few = frame._FEW
    frame._FEW = -1  # every column takes the numpy path
    try:
        return frame._fast_numeric(column, spec)
    finally:
        frame._FEW = few


@pytest.mark.parametrize("dtype", ["int64", "float64"])
@settings(max_examples=300, deadline=None)
@given(column=values)
def test_few_values_are_checked_as_the_numpy_path_checks_them(
    column: list[Any], dtype: str
) -> None:
    spec = ColumnSpec("x", dtype)
    few, many = frame._fast_numeric(column, spec), _numpy_path(column, spec)
    assert (few is None) == (many is None), (column, few, many)
    if few is not None:
        assert few.dtype == many.dtype and np.array_equal(few, many), (column, few, many)
