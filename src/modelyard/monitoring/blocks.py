"""The columnar copy of each written batch, which reports read instead of the JSON rows.

The collection table keeps one row per scored row with its inputs and outputs as JSON,
for plain SQL. Decoding that JSON back was most of a report's time on a million rows,
so each batch the collector writes is also stored, in the same transaction, as one
compressed Arrow block: the scalar columns, then ``in:<feature>`` and ``out:<key>``
columns (``out:prediction``, ``out:proba.<class>``). A report reads the blocks of its
span and filters their rows by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from modelyard.monitoring.batch import Batch
from modelyard.storage.collection import BlockRow

Array = np.ndarray[Any, Any]
# zstd reads 15x slower per small block; a block is compressed on the writer's own thread
_OPTIONS = ipc.IpcWriteOptions(compression="lz4", use_threads=False)
# Arrow's thread pool costs more than it saves on a thousand small blocks (4x slower)
_READ = ipc.IpcReadOptions(use_threads=False)


def _pool() -> pa.MemoryPool:
    """jemalloc where the wheel has it: mimalloc (Arrow's default) took 5x longer to hand
    out the memory of a first million rows."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


def _array(values: list[Any] | Array) -> pa.Array:
    """A column as Arrow; values of mixed types become text (a script may send anything)."""
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def encode(batch: Batch) -> BlockRow:
    """The block of a batch's rows (times in UTC)."""
    columns: dict[str, pa.Array] = {
        "scored_at": pa.array(batch.times()),
        "source": pa.array(batch.each("source"), type=pa.string()),
        "designation": pa.array(batch.each("designation"), type=pa.string()),
        "row_index": pa.array(batch.row_index(), type=pa.int64()),
        "version": pa.array(batch.each("version"), type=pa.int64()),
        "latency_ms": pa.array(batch.each("latency_ms"), type=pa.float64()),
        "status": pa.array(batch.each("status"), type=pa.int64()),
    }
    columns.update(
        {name: _array(batch.arrays.get(name, values)) for name, values in batch.data.items()}
    )
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=_OPTIONS) as writer:
        writer.write_table(table)
    data = sink.getvalue().to_pybytes()
    return BlockRow(batch.first_at(), batch.last_at(), table.num_rows, data)


def decode(blocks: Sequence[bytes]) -> pa.Table:
    """The rows of several blocks as one table (missing columns are nulls)."""
    pool = _pool()
    tables = [
        ipc.open_stream(pa.py_buffer(b), options=_READ, memory_pool=pool).read_all() for b in blocks
    ]
    if not tables:
        return pa.table({"scored_at": pa.array([], type=pa.timestamp("us"))})
    return pa.concat_tables(tables, promote_options="permissive")
