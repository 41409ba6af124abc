"""One canonical shape for data read from any source, so every path gives the same frame.

Whatever a driver returns (ADBC, connectorx, SQLAlchemy rows, CSV, Parquet), columns
are cast to: int64 (float64 where nulls occur), float64 (decimals and numerics too),
bool (float64 where nulls occur), string, timestamp[us] (dates too; zoned ones in UTC),
binary; a column of nulls only becomes float64.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NUMERIC_NAMES = {"numeric", "decimal"}


def _canonical(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    kind = field.type
    if isinstance(kind, pa.BaseExtensionType):
        storage = pa.chunked_array([c.storage for c in column.chunks], type=kind.storage_type)
        metadata = field.metadata or {}
        type_name = getattr(kind, "type_name", "") or metadata.get(b"ADBC:postgresql:typname", b"")
        if isinstance(type_name, bytes):
            type_name = type_name.decode()
        if type_name in _NUMERIC_NAMES:
            return _nullable_float(pc.cast(storage, pa.float64()))
        return _canonical(storage, pa.field(field.name, storage.type))
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(column), pa.float64())])
    if pa.types.is_integer(kind):
        return _nullable_float(pc.cast(column, pa.int64()))
    if pa.types.is_floating(kind):
        return pc.cast(column, pa.float64())
    if pa.types.is_decimal(kind):
        return pa.chunked_array([_decimal_to_float(c) for c in column.chunks], pa.float64())
    if pa.types.is_boolean(kind):
        return _nullable_float(column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_date(kind):
        return pc.cast(pc.cast(column, pa.date32()), pa.timestamp("us"))
    if pa.types.is_timestamp(kind):
        target = pa.timestamp("us", tz="UTC" if kind.tz else None)
        return pc.cast(column, target)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pc.cast(column, pa.binary())
    return column


def _decimal_to_float(chunk: pa.Array) -> pa.Array:
    """Each decimal as its nearest float64, as ``float(Decimal)`` and PostgreSQL give it.

    Arrow's own decimal-to-double cast can be one unit in the last place off, so the same
    NUMERIC would read differently through a driver that sends decimals (connectorx,
    SQLAlchemy) and one that sends text (ADBC). Where the unscaled integer and the power
    of ten are exact doubles, one IEEE division rounds correctly; otherwise via the text.
    """
    scale = chunk.type.scale
    if pa.types.is_decimal128(chunk.type) and 0 <= scale <= 22 and sys.byteorder == "little":
        count = 2 * (chunk.offset + len(chunk))
        words = np.frombuffer(chunk.buffers()[1], dtype=np.int64, count=count)
        low, high = words[2 * chunk.offset :: 2], words[2 * chunk.offset + 1 :: 2]
        exact = (high == (low >> 63)) & (low > -(2**53)) & (low < 2**53)
        valid = np.asarray(chunk.is_valid()) if chunk.null_count else None
        if exact.all() if valid is None else exact[valid].all():
            values = low.astype(np.float64) / float(10**scale)
            return pa.array(values, pa.float64(), mask=None if valid is None else ~valid)
    return pc.cast(pc.cast(chunk, pa.string()), pa.float64())


def _nullable_float(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Keep a column as is unless it has nulls, in which case float64 with NaN-able nulls."""
    if column.null_count == 0:
        return column
    return pc.cast(column, pa.float64())


def canonical_table(table: pa.Table) -> pa.Table:
    """Cast every column of ``table`` to the canonical types (metadata dropped)."""
    columns = [_canonical(table.column(i), table.schema.field(i)) for i in range(table.num_columns)]
    return pa.table(columns, names=table.column_names)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The canonical pandas DataFrame of an Arrow table."""
    # one block per column: pandas would otherwise first copy the columns of each dtype
    # into one 2-D block, a copy it makes itself later only where an operation needs it
    frame: pd.DataFrame = canonical_table(table).to_pandas(date_as_object=False, split_blocks=True)
    return frame


def apply_declared_types(table: pa.Table, declared: list[str]) -> pa.Table:
    """Give SQLite result columns the types their declarations name (one per column).

    SQLite keeps dates as text and booleans as 0/1, and a NUMERIC column holds 2 as an
    integer; ADBC and the DB-API only see those stored values. connectorx and SQLAlchemy's
    reflected types go by the declared type, and so does this: BOOL* -> bool, DATE -> date,
    DATETIME/TIMESTAMP -> timestamp, NUMERIC/DECIMAL/REAL/FLOAT/DOUBLE -> float64, and a
    column without values (empty result, NULLs only) takes its declared type whatever it is.
    A column whose values do not convert (a DATE column holding other text) is kept as is.
    """
    if len(declared) != table.num_columns:
        return table
    columns = []
    for column, decl in zip(table.columns, declared, strict=True):
        target = _declared_type(decl.upper())
        if target is not None and column.type != target:
            if column.null_count == len(column):
                column = pa.chunked_array([pa.nulls(len(column), target)])
            elif _converts(column.type, target):
                try:
                    column = pc.cast(column, target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    if pa.types.is_timestamp(target) and pa.types.is_string(column.type):
                        column = _zoned_timestamps(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _declared_type(decl: str) -> pa.DataType | None:
    """SQLite's affinity rules, refined by the names that carry a type SQLite lacks."""
    if "BOOL" in decl:
        return pa.bool_()
    if "DATETIME" in decl or "TIMESTAMP" in decl:
        return pa.timestamp("us")
    if decl.startswith("DATE"):
        return pa.date32()
    if "INT" in decl:
        return pa.int64()
    if any(word in decl for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if any(word in decl for word in ("REAL", "FLOA", "DOUB", "NUMERIC", "DEC")):
        return pa.float64()
    return None


def _converts(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether stored values of type ``source`` are meant to be read as ``target``."""
    if pa.types.is_boolean(target) or pa.types.is_floating(target):
        return bool(pa.types.is_integer(source))
    if pa.types.is_date(target) or pa.types.is_timestamp(target):
        return bool(pa.types.is_string(source) or pa.types.is_large_string(source))
    return False


def _zoned_timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text timestamps with a UTC offset (``…+02:00``) as UTC; kept as text if they are not."""
    try:
        return pc.cast(column, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def rows_to_table(names: list[str], rows: list[tuple[object, ...]]) -> pa.Table:
    """An Arrow table from DB-API rows (the SQLAlchemy fallback path)."""
    if not rows:
        return pa.table({name: pa.nulls(0) for name in names})
    columns = list(zip(*rows, strict=True))
    return pa.table([pa.array(list(col)) for col in columns], names=names)
