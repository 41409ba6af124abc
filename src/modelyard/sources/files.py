"""File sources: a CSV or Parquet file (or a folder of Parquet files) read whole into Arrow."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from modelyard.errors import ConfigError, SourceError, SourceUnreachable
from modelyard.sources.arrow import canonical_table
from modelyard.sources.base import IfExists


class FileSource:
    """A CSV or Parquet path; ``write`` writes a sibling file named after the table."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.format = "csv" if path.suffix.lower() in (".csv", ".txt") else "parquet"

    def describe(self) -> str:
        """The file path."""
        return str(self.path)

    def read(
        self,
        query: str | None = None,
        *,
        table: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> pa.Table:
        """Read the whole file; a SQL query cannot run on a file source."""
        if query is not None:
            raise ConfigError(
                f"source {self.name} is the file {self.path}: it is read whole, so drop the query "
                "(or declare a SQL source)"
            )
        target = self._path_for(table) if table else self.path
        if not target.exists():
            raise SourceUnreachable(
                f"source {self.name}: {target} does not exist", source=self.name
            )
        return canonical_table(self._load(target))

    def _load(self, target: Path) -> pa.Table:
        """The file as stored: an empty CSV field is NULL (as in a database), ``""`` is text."""
        try:
            if self.format == "csv":
                options = pcsv.ConvertOptions(
                    strings_can_be_null=True, quoted_strings_can_be_null=False
                )
                return pcsv.read_csv(target, convert_options=options)
            return pq.read_table(target)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(
                f"source {self.name}: cannot read {target}: {exc}", source=self.name
            ) from None

    def write(self, data: pa.Table, table: str, *, if_exists: IfExists = "append") -> int:
        """Write ``data`` to ``<folder>/<table>.csv|.parquet``; append concatenates."""
        target = self._path_for(table)
        if target.exists():
            if if_exists == "fail":
                raise SourceError(f"source {self.name}: {target} exists", source=self.name)
            if if_exists == "append":  # as stored, so that NULLs in one part only still fit
                try:
                    data = pa.concat_tables(
                        [self._load(target), data], promote_options="permissive"
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise SourceError(
                        f"source {self.name}: cannot append to {target}: {exc}", source=self.name
                    ) from None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        if self.format == "csv":
            pcsv.write_csv(data, tmp)
        else:
            pq.write_table(data, tmp)
        tmp.replace(target)
        return int(data.num_rows)

    def _path_for(self, table: str) -> Path:
        if "/" in table or "\\" in table or table.startswith("."):
            raise ConfigError(f"source {self.name}: {table!r} is not a plain table name")
        folder = self.path if self.path.is_dir() else self.path.parent
        return folder / f"{table}.{self.format}"

    def close(self) -> None:
        """Nothing to release."""
