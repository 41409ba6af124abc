"""An output folder written a chunk file at a time: written under a temporary name,
renamed into place, then recorded (``batch_chunks``) as the partition's watermark.

A chunk's file name is fixed by (job, partition, chunk number): a job run again after a
crash between the rename and the record writes the same name again, so no key is in two
files. Parquet unless the path ends in ``.csv``; any fsspec URL (``s3://…``) works.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelyard.errors import InvalidInput
from modelyard.storage.batch import BatchStore, Chunk


class ChunkFiles:
    """Chunk files of one job in the folder ``output``."""

    def __init__(self, output: str, store: BatchStore, job_id: str) -> None:
        self.output = output.rstrip("/")
        self.format = "csv" if self.output.lower().endswith(".csv") else "parquet"
        self._store = store
        self._job_id = job_id
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.output)
        except (ValueError, ImportError) as exc:
            raise InvalidInput(
                f"cannot write to {self.output}: {exc}", code="output_unwritable"
            ) from None

    def describe(self) -> str:
        """The output folder."""
        return f"folder {self.output} ({self.format})"

    def prepare(self, schema: pa.Schema) -> None:
        """Create the folder and check that a file can be written there; remove the
        temporaries a crashed run of this job left."""
        probe = f"{self._root}/.modelyard-probe-{uuid.uuid4().hex}"
        try:
            self._fs.makedirs(self._root, exist_ok=True)
            with self._fs.open(probe, "wb") as handle:
                handle.write(b"")
            self._fs.rm(probe)
            for left in self._fs.glob(f"{self._root}/.tmp-{self._job_id}-*"):
                self._fs.rm(left)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write to the output folder {self.output}: "
                f"{type(exc).__name__}: {exc.strerror or exc}; give --output a folder "
                "this process may write",
                code="output_unwritable",
            ) from None

    def watermark(self, part: int) -> Chunk | None:
        """The partition's last recorded chunk, or None."""
        chunks = self._store.chunks(self._job_id, part)
        return chunks[-1] if chunks else None

    def commit(self, part: int, data: pa.Table, chunk: Chunk) -> Chunk:
        """Write ``data`` as chunk ``chunk.seq`` (temporary, renamed), then record it."""
        name = f"{self._job_id}-{part:03d}-{chunk.seq:06d}.{self.format}"
        final = f"{self._root}/{name}"
        temporary = f"{self._root}/.tmp-{self._job_id}-{uuid.uuid4().hex}"
        buffer = io.BytesIO()
        if self.format == "csv":
            pacsv.write_csv(data, buffer)
        else:
            pq.write_table(data, buffer)
        try:
            with self._fs.open(temporary, "wb") as handle:
                handle.write(buffer.getvalue())
            self._fs.mv(temporary, final)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write {final}: {type(exc).__name__}: {exc.strerror or exc}",
                code="output_unwritable",
            ) from None
        path = final if "://" not in self.output else self.output + "/" + name
        recorded = Chunk(part, chunk.seq, chunk.last_key, chunk.rows, chunk.skipped, path)
        self._store.record_chunk(self._job_id, recorded)
        return recorded

    def paths(self) -> list[str]:
        """Every chunk file recorded for the job, in order."""
        return [c.path for c in self._store.chunks(self._job_id)]


def read_back(paths: list[str]) -> Any:
    """All chunk files as one Arrow table (tests, ``outputs``)."""
    tables = []
    for path in paths:
        with fsspec.open(path, "rb") as handle:
            data = handle.read()
        if path.endswith(".csv"):
            tables.append(pacsv.read_csv(io.BytesIO(data)))
        else:
            tables.append(pq.read_table(io.BytesIO(data)))
    return pa.concat_tables(tables)
