"""Infer a model's input signature from a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from modelyard.types import ColumnSpec, OutputKind, Signature

MAX_CATEGORIES = 1000


def logical_dtype(series: pd.Series[Any]) -> str:
    """The dtype name a signature records: int64, float64, bool, string, category, datetime."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if ptypes.is_integer_dtype(dtype):
        return "int64"
    if ptypes.is_float_dtype(dtype):
        return "float64"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype):
        return "string"
    return str(dtype)


def _categories(series: pd.Series[Any], dtype: str) -> tuple[Any, ...] | None:
    if dtype == "category":
        values = list(series.cat.categories)
    elif dtype == "string":
        values = sorted({str(v) for v in series.dropna().unique()})
    else:
        return None
    if len(values) > MAX_CATEGORIES:
        return None
    return tuple(v.item() if hasattr(v, "item") else v for v in values)


def infer_signature(frame: pd.DataFrame, output_kind: OutputKind = OutputKind.RAW) -> Signature:
    """Describe ``frame``'s columns: names in order, dtypes, nullability, categories seen."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        dtype = logical_dtype(series)
        columns.append(
            ColumnSpec(
                name=str(name),
                dtype=dtype,
                nullable=bool(series.isna().any()),
                categories=_categories(series, dtype),
            )
        )
    return Signature(inputs=tuple(columns), output_kind=output_kind)
