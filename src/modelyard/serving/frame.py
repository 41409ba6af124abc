"""Requests become DataFrames checked against the version's signature.

Every codec decodes to rows (lists in signature order, or dicts by column name) or
to columns; this module builds the frame and says which row and column is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput
from modelyard.types import ColumnSpec, Signature

_NUMERIC = {"int64", "float64"}
_INT64_MIN, _INT64_END = -(2.0**63), 2.0**63
_EXACT = 2**53  # integers up to this size are exact in float64
_FEW = 16  # up to this many values, a column is checked in plain Python (numpy's calls cost more)
_RANGE = {"int64": "an integer within the int64 range", "float64": "a finite number"}


def _bad(row: int, spec: ColumnSpec, value: Any, expected: str) -> InvalidInput:
    shown = "null" if value is None else repr(value)
    return InvalidInput(
        f"row {row}, column {spec.name}: expected {expected}, got {shown}",
        code="bad_value",
        row=row,
        column=spec.name,
        expected=expected,
        got=shown,
    )


def _fast_numeric(values: list[Any], spec: ColumnSpec) -> Any:
    """The column in one numpy call when every value is a plain finite number, else None
    (the value-by-value path then finds and names the bad one)."""
    if len(values) <= _FEW:
        return _few_numeric(values, spec)
    if not all(type(v) is float or type(v) is int for v in values):
        return None
    try:
        out = np.asarray(values, dtype="float64")
    except (OverflowError, ValueError):
        return None
    if not np.isfinite(out).all():
        return None
    if spec.dtype == "int64":
        if out.size and not (out.min() >= _INT64_MIN and out.max() < _INT64_END):
            return None
        if np.all(out == np.round(out)):
            return out.astype("int64")
    return out


def _few_numeric(values: list[Any], spec: ColumnSpec) -> Any:
    """:func:`_fast_numeric` for a few values (a request's rows): the same checks and the
    same result, value by value in Python and one numpy call, instead of six per column."""
    whole = True  # every value an int that float64 holds exactly
    for value in values:
        kind = type(value)
        if kind is int:
            if whole and not -_EXACT <= value <= _EXACT:
                whole = False
        elif kind is float:
            if not math.isfinite(value):
                return None
            whole = False
        else:
            return None
    if whole and spec.dtype == "int64":  # what the float64 round trip below gives them
        return np.array(values, dtype=np.int64)
    try:
        out = np.array(values, dtype="float64")
    except (OverflowError, ValueError):
        return None
    if spec.dtype == "int64":
        floats = out.tolist()
        if not all(_INT64_MIN <= f < _INT64_END for f in floats):
            return None
        if all(f.is_integer() for f in floats):
            return out.astype("int64")
    return out


def _coerce(values: list[Any], spec: ColumnSpec) -> Any:
    if spec.dtype in _NUMERIC:
        fast = _fast_numeric(values, spec)
        if fast is not None:
            return fast
        out = np.empty(len(values), dtype="float64")
        for i, value in enumerate(values):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                if not spec.nullable:
                    raise _bad(i, spec, value, "a number")
                out[i] = np.nan
            elif isinstance(value, bool) or not isinstance(value, int | float | str):
                raise _bad(i, spec, value, "a number")
            else:
                try:
                    number = float(value)
                except (ValueError, OverflowError):
                    raise _bad(i, spec, value, "a number") from None
                if np.isnan(number) and not spec.nullable:
                    raise _bad(i, spec, value, "a number")
                if np.isinf(number) or (
                    spec.dtype == "int64" and not _INT64_MIN <= number < _INT64_END
                ):
                    raise _bad(i, spec, value, _RANGE[spec.dtype])
                out[i] = number
        if spec.dtype == "int64" and not np.isnan(out).any() and np.all(out == np.round(out)):
            return out.astype("int64")
        return out
    if spec.dtype == "bool":
        flags = []
        for i, value in enumerate(values):
            if value in (True, False, 0, 1):
                flags.append(bool(value))
            elif isinstance(value, str) and value.lower() in ("true", "false"):
                flags.append(value.lower() == "true")
            else:
                raise _bad(i, spec, value, "true or false")
        return np.array(flags, dtype=bool)
    if spec.dtype == "datetime":
        try:
            return pd.to_datetime(pd.Series(values, dtype="object"))
        except (ValueError, TypeError):
            for i, value in enumerate(values):
                try:
                    pd.to_datetime(value)
                except (ValueError, TypeError):
                    raise _bad(i, spec, value, "a date or timestamp") from None
            raise
    strings: list[Any] = []
    for i, value in enumerate(values):
        if type(value) is str:
            strings.append(value)
        elif value is None:
            if not spec.nullable:
                raise _bad(i, spec, value, "a string")
            strings.append(None)
        elif isinstance(value, str | int | float | bool):
            strings.append(str(value))
        else:
            raise _bad(i, spec, value, "a string")
    return np.array(strings, dtype=object)


def from_columns(columns: Mapping[str, Sequence[Any]], signature: Signature | None) -> pd.DataFrame:
    """A frame from ``{"column": [values…]}``, checked and ordered by the signature."""
    if signature is None:
        return pd.DataFrame({k: list(v) for k, v in columns.items()})
    return pd.DataFrame(checked_columns(columns, signature), columns=signature.names)


def checked_columns(columns: Mapping[str, Sequence[Any]], signature: Signature) -> dict[str, Any]:
    """The signature's columns of ``{"column": [values…]}``, each checked and converted to
    a numpy array (what compiled scorers take; no DataFrame is built)."""
    missing = [c for c in signature.names if c not in columns]
    if missing:
        raise InvalidInput(
            f"missing column {', '.join(missing)}: the model expects {', '.join(signature.names)}",
            code="missing_column",
            column=missing[0],
            expected=signature.names,
        )
    lengths = {len(columns[c]) for c in signature.names}
    if len(lengths) > 1:
        raise InvalidInput("columns have different lengths", code="ragged_columns")
    return _converted(columns, signature)


def _converted(columns: Mapping[str, Sequence[Any]], signature: Signature) -> dict[str, Any]:
    """Each of the signature's columns (all there, all as long) checked and converted."""
    out: dict[str, Any] = {}
    for spec in signature.inputs:
        values = columns[spec.name]
        if type(values) is not list:
            values = list(values)
        column = None
        if len(values) <= _FEW and spec.dtype in _NUMERIC:  # a request's few numbers
            column = _few_numeric(values, spec)
        out[spec.name] = _coerce(values, spec) if column is None else column
    return out


def from_rows(rows: Sequence[Any], signature: Signature | None) -> pd.DataFrame:
    """A frame from rows: lists in signature order, or dicts by column name."""
    if signature is None:
        _check_rows(rows)
        if all(isinstance(r, Mapping) for r in rows):
            return from_columns(_by_name(rows, list(rows[0])), None)
        return pd.DataFrame([list(r) for r in rows])
    return pd.DataFrame(checked_rows(rows, signature), columns=signature.names)


def checked_rows(rows: Sequence[Any], signature: Signature) -> dict[str, Any]:
    """:func:`checked_columns` of rows given as lists in signature order or objects by name."""
    if type(rows) is list and rows and all(type(r) is dict for r in rows):  # JSON objects
        return _from_objects(rows, signature)
    _check_rows(rows)
    if all(isinstance(r, Mapping) for r in rows):
        return _from_objects(rows, signature)
    width = len(signature.names)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InvalidInput(
                f"row {i} has {len(row)} values, expected {width} ({', '.join(signature.names)})",
                code="bad_row_length",
                row=i,
            )
    return checked_columns(
        {name: [row[j] for row in rows] for j, name in enumerate(signature.names)}, signature
    )


def _from_objects(rows: Sequence[Mapping[str, Any]], signature: Signature) -> dict[str, Any]:
    """:func:`checked_columns` of rows given as objects by name: every column is there and
    as long as the others once :func:`_by_name` has read them, unless the signature names
    a column twice (then checked as any columns are)."""
    names = signature.names
    columns = _by_name(rows, names)
    if len(columns) != len(names):
        return checked_columns(columns, signature)
    return _converted(columns, signature)


def _check_rows(rows: Sequence[Any]) -> None:
    if not isinstance(rows, list | tuple):
        raise InvalidInput(
            f"the rows must be a list (of lists or of objects), not {type(rows).__name__}",
            code="bad_shape",
        )
    if not rows:
        raise InvalidInput("no rows to score: send at least one row", code="empty_input")
    if not all(isinstance(r, Mapping) for r in rows) and not all(
        isinstance(r, list | tuple) for r in rows
    ):
        raise InvalidInput(
            "rows must all be lists (values in signature order) or all objects (by column name)",
            code="bad_rows",
        )


def _by_name(rows: Sequence[Any], names: Sequence[str]) -> dict[str, list[Any]]:
    """The columns ``names`` of rows given as objects; a row without one is refused."""
    if len(rows) == 1 and type(rows[0]) is dict:  # a request's one row
        row = rows[0]
        try:
            one = {n: [row[n]] for n in names}
        except KeyError:
            one = None  # the missing column is named below
        if one is not None and len(one) == len(names):  # else a name twice: read below
            return one
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for i, row in enumerate(rows):
        absent = [n for n in names if n not in row]
        if absent:
            raise InvalidInput(
                f"row {i}: missing column {', '.join(absent)}",
                code="missing_column",
                row=i,
                column=absent[0],
            )
        for name in names:
            columns[name].append(row[name])
    return columns


def example_frame(signature: Signature, profile: Mapping[str, Any] | None) -> pd.DataFrame:
    """One plausible row (profile means, first categories) to warm a model up."""
    features = (profile or {}).get("features", {})
    row: dict[str, Any] = {}
    for spec in signature.inputs:
        stats = features.get(spec.name, {})
        if spec.dtype in _NUMERIC:
            row[spec.name] = stats.get("mean", 1.0)
        elif spec.dtype == "bool":
            row[spec.name] = False
        elif spec.dtype == "datetime":
            row[spec.name] = "2020-01-01"
        else:
            row[spec.name] = (spec.categories or ("x",))[0]
    return from_rows([row], signature)


def columns_of(
    columns: Mapping[str, Sequence[Any]], signature: Signature | None
) -> pd.DataFrame | dict[str, Any]:
    """Checked numpy columns against ``signature`` (no DataFrame is built: the scorer
    builds one only if the original model runs), or a frame when there is no signature."""
    if signature is None:
        return from_columns(columns, None)
    return checked_columns(columns, signature)


def rows_of(rows: Sequence[Any], signature: Signature | None) -> pd.DataFrame | dict[str, Any]:
    """:func:`columns_of` for rows (lists in signature order, or objects by name)."""
    if signature is None:
        return from_rows(rows, None)
    return checked_rows(rows, signature)
