"""Where a batch job's rows go, behind one small contract: a table (rows and watermark in
one transaction) or a folder of chunk files (written, renamed, recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from modelyard.batch.files import ChunkFiles
from modelyard.sources.chunk_table import ChunkTable, Watermark
from modelyard.storage.batch import Chunk


@dataclass(frozen=True)
class Position:
    """Where a partition stands: chunks committed, the last key, rows written and skipped."""

    seq: int
    last_key: Any
    rows: int
    skipped: int


class Sink(Protocol):
    """The output of a batch job."""

    def describe(self) -> str:
        """Where the rows go (no secret)."""
        ...

    def prepare(self, schema: pa.Schema) -> None:
        """Check the output can take rows of ``schema`` (create what is missing)."""
        ...

    def position(self, part: int) -> Position | None:
        """The partition's committed position, or None before its first chunk."""
        ...

    def commit(self, part: int, data: pa.Table, position: Position) -> None:
        """Write one chunk and move the partition to ``position``, exactly once."""
        ...

    def outputs(self) -> list[str]:
        """What the job wrote: the table, or the chunk files."""
        ...


class TableSink:
    """Rows into a table of a SQL source."""

    def __init__(self, table: ChunkTable, job_id: str) -> None:
        self._table = table
        self._job_id = job_id

    def describe(self) -> str:
        """The table and its database."""
        return self._table.describe()

    def prepare(self, schema: pa.Schema) -> None:
        """Create the table (or check its columns) and the watermark table."""
        self._table.prepare(schema)

    def position(self, part: int) -> Position | None:
        """From the watermark table, in the output's own database."""
        mark = self._table.watermark(self._job_id, part)
        return None if mark is None else Position(mark.seq, mark.last_key, mark.rows, mark.skipped)

    def commit(self, part: int, data: pa.Table, position: Position) -> None:
        """Rows and watermark in one transaction."""
        mark = Watermark(position.seq, position.last_key, position.rows, position.skipped)
        self._table.commit(self._job_id, part, data, mark)

    def outputs(self) -> list[str]:
        """``table:NAME``."""
        return [f"table:{self._table.table}"]


class FileSink:
    """Chunk files in a folder."""

    def __init__(self, files: ChunkFiles) -> None:
        self._files = files

    def describe(self) -> str:
        """The folder."""
        return self._files.describe()

    def prepare(self, schema: pa.Schema) -> None:
        """Create the folder and check it is writable."""
        self._files.prepare(schema)

    def position(self, part: int) -> Position | None:
        """From the chunks recorded in the registry."""
        last = self._files.watermark(part)
        return None if last is None else Position(last.seq, last.last_key, last.rows, last.skipped)

    def commit(self, part: int, data: pa.Table, position: Position) -> None:
        """Write, rename, record."""
        chunk = Chunk(part, position.seq, position.last_key, position.rows, position.skipped, "")
        self._files.commit(part, data, chunk)

    def outputs(self) -> list[str]:
        """The chunk files."""
        return self._files.paths()
