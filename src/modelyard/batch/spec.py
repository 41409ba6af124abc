"""What a batch job scores and where it writes: checked once at submit, stored on the job."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError, InvalidInput

ON_ERROR = ("skip", "fail")
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DEFAULT_CHUNK_ROWS = 50_000
MAX_CHUNK_ROWS = 10_000_000  # a chunk is held in memory three times over
MAX_PARTITIONS = 1024


def check_job_id(job_id: str) -> str:
    """``job_id`` if it is 1-32 letters, digits, ``_ . -`` (starting with a letter or digit)."""
    if not _JOB_ID.match(job_id):
        raise ConfigError(
            f"invalid job id {job_id!r}: use 1-32 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    return job_id


@dataclass(frozen=True)
class BatchSpec:
    """One batch job: the model, the input (a query or a table of a source), the output
    (a table of a source, or a folder of files), the key and how to page and fail."""

    model: str
    source: str
    key: str
    query: str | None = None
    table: str | None = None
    output_table: str | None = None
    output_source: str | None = None
    output: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    on_error: str = "fail"
    partitions: int = 1

    def __post_init__(self) -> None:
        if (self.query is None) == (self.table is None):
            raise ConfigError("give the input as --query or --table (one of them)")
        if (self.output_table is None) == (self.output is None):
            raise ConfigError(
                "give the output as --output-table (a table) or --output (a .parquet or .csv "
                "folder, or an fsspec URL), one of them"
            )
        if self.output_source is not None and self.output_table is None:
            raise ConfigError("--output-source names where --output-table is: give both")
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"--on-error must be skip or fail, not {self.on_error!r}")
        if not 1 <= self.chunk_rows <= MAX_CHUNK_ROWS:
            raise ConfigError(f"--chunk-rows must be from 1 to {MAX_CHUNK_ROWS:,}")
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ConfigError(f"--partitions must be from 1 to {MAX_PARTITIONS}")
        if not self.key.strip():
            raise ConfigError("--key names the input's unique column (for example id)")

    @property
    def writes_table(self) -> bool:
        """True when the output is a table (else files)."""
        return self.output_table is not None

    def output_description(self) -> str:
        """Where the rows go, in words."""
        if self.output_table is not None:
            return f"table {self.output_table} of {self.output_source or self.source}"
        return str(self.output)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form stored on the job."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchSpec:
        """Rebuild from :meth:`to_dict`."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def local_output(output: str, root: Path) -> str:
    """Where a job writes ``output``: a URL as it is, a local folder as an absolute path
    (``~`` expanded, relative to the workspace folder ``root``)."""
    if "://" in output:
        return output
    path = Path(output).expanduser()
    return str(path if path.is_absolute() else root / path)


OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl")
"""The URL schemes a job sent over HTTP may write to: object stores, never this machine."""


def check_served_output(spec: BatchSpec, root: Path) -> None:
    """For a job sent over HTTP (the batch API, classic BES): raise ``InvalidInput`` unless
    its output is a table, an object-store URL (:data:`OBJECT_STORES`, not chained) or a
    folder inside the workspace folder ``root`` (symlinks followed): a caller may not make
    the server write anywhere else (``file://``, ``local://``, ``memory://``, chained
    ``simplecache::`` URLs and every other scheme are refused)."""
    if spec.output is None:
        return
    output = spec.output
    scheme, found, _ = output.partition("://")
    if found or "::" in output:
        if found and "::" not in output and scheme.lower() in OBJECT_STORES:
            return
        raise InvalidInput(
            f"the output {output[:200]!r} is not an object store: a job sent over HTTP "
            f"writes to {', '.join(s + '://' for s in OBJECT_STORES)}, a table, or a folder "
            "inside the workspace",
            code="output_outside_workspace",
        )
    where = Path(local_output(output, root)).resolve()
    if not where.is_relative_to(root.resolve()):
        raise InvalidInput(
            f"the output {output[:200]!r} is outside the workspace folder: a job sent over "
            "HTTP writes files under it (a relative folder), to an object store URL "
            "(s3://, az://, gs://) or to a table",
            code="output_outside_workspace",
        )
