"""Tabular request bodies: Azure ML v1 ``{"data": …}``, MLflow's four JSON shapes, CSV
and Parquet. All decode to the same checked DataFrame."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from modelyard.errors import InvalidInput
from modelyard.serving.frame import checked_columns, checked_rows, from_columns, from_rows
from modelyard.serving.protocols.common import ARROW, CSV, PARQUET, parse_json
from modelyard.types import Signature

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode_json(document: Any, signature: Signature | None, *, azure: bool = True) -> pd.DataFrame:
    """A frame from ``{"data": …}`` (Azure ML v1) or one of MLflow's shapes."""
    frame: pd.DataFrame = _decode(document, signature, azure, from_rows, from_columns)
    return frame


def decode_json_columns(
    document: Any, signature: Signature, *, azure: bool = True
) -> dict[str, Any]:
    """:func:`decode_json` as checked numpy columns by name: no DataFrame is built, which
    is most of a one-row request's cost when the model has a compiled scorer."""
    columns: dict[str, Any] = _decode(document, signature, azure, checked_rows, checked_columns)
    return columns


def _decode(
    document: Any,
    signature: Any,
    azure: bool,
    rows_to: Callable[[Any, Any], Any],
    columns_to: Callable[[Any, Any], Any],
) -> Any:
    if not isinstance(document, Mapping):
        kind = "a list" if isinstance(document, list) else type(document).__name__
        raise InvalidInput(
            f"the body must be a JSON object with one of {_expected(azure)}; received {kind}",
            code="bad_shape",
        )
    keys = [k for k in (("data", *MLFLOW_KEYS) if azure else MLFLOW_KEYS) if k in document]
    if len(keys) != 1:
        found = ", ".join(sorted(str(k) for k in document)) or "none"
        raise InvalidInput(
            f"the body must have exactly one of {_expected(azure)}; it has: {found}",
            code="bad_shape",
        )
    key = keys[0]
    value = document[key]
    if key in ("data", "dataframe_records", "instances"):
        return rows_to(value, signature)
    if key == "dataframe_split":
        if not isinstance(value, Mapping) or "data" not in value:
            raise InvalidInput(
                'dataframe_split needs {"columns": [...], "data": [[...]]}', code="bad_shape"
            )
        columns = value.get("columns")
        rows = value["data"]
        if columns is None:
            return rows_to(rows, signature)
        if not isinstance(rows, list):
            raise InvalidInput("dataframe_split.data must be a list of rows", code="bad_shape")
        return rows_to([dict(zip(columns, row, strict=False)) for row in rows], signature)
    if isinstance(value, Mapping):
        return columns_to({str(k): _as_list(v) for k, v in value.items()}, signature)
    return rows_to(value, signature)


def decode_body_columns(
    body: bytes, kind: str, signature: Signature | None
) -> pd.DataFrame | dict[str, Any]:
    """:func:`decode_body`, but JSON against a signature comes as checked numpy columns."""
    if kind not in (CSV, PARQUET, ARROW) and signature is not None:
        return decode_json_columns(parse_json(body), signature)
    return decode_body(body, kind, signature)


def decode_body(body: bytes, kind: str, signature: Signature | None) -> pd.DataFrame:
    """Decode a body of media type ``kind`` (JSON, CSV, Parquet or Arrow stream)."""
    if kind == CSV:
        return _from_table(_read(lambda: pcsv.read_csv(io.BytesIO(body)), "CSV"), signature)
    if kind == PARQUET:
        return _from_table(_read(lambda: pq.read_table(io.BytesIO(body)), "Parquet"), signature)
    if kind == ARROW:
        return _from_table(
            _read(lambda: pa.ipc.open_stream(io.BytesIO(body)).read_all(), "Arrow"), signature
        )
    return decode_json(parse_json(body), signature)


def _read(reader: Any, what: str) -> pa.Table:
    try:
        return reader()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"the body is not valid {what}: {exc}", code="invalid_body") from None


def _from_table(table: pa.Table, signature: Signature | None) -> pd.DataFrame:
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            # pyarrow keeps duplicated names, and table.column(name) then raises KeyError
            raise InvalidInput(
                f"column {name!r} appears more than once: send each column once",
                code="bad_shape",
                column=name,
            )
        seen.add(name)
    return from_columns(
        {name: table.column(name).to_pylist() for name in table.column_names}, signature
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _expected(azure: bool) -> str:
    keys = ("data", *MLFLOW_KEYS) if azure else MLFLOW_KEYS
    return ", ".join(keys)
