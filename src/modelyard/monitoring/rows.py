"""A span's collected rows as columns, read from the columnar blocks and sliced by time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.monitoring.blocks import decode
from modelyard.monitoring.observation import IN, OUT

Array = np.ndarray[Any, Any]
Columns = dict[str, pa.ChunkedArray]


def between(times: Array, start: datetime, end: datetime) -> Array:
    """A mask of the numpy UTC ``times`` in ``[start, end)``."""
    low = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    high = np.datetime64(end.astimezone(UTC).replace(tzinfo=None), "us")
    return (times >= low) & (times < high)


@dataclass(frozen=True)
class Rows:
    """Collected rows: what kind each is, when, how answered, and their inputs and outputs
    (Arrow columns by feature, and by output: ``prediction``, ``proba.<class>``)."""

    times: Array
    request: Array  # the first row of a request the endpoint answered (model or script)
    model: Array  # a model endpoint's scored row
    compared: Array  # inputs compared with the reference (model rows, collected "inputs")
    version: Array  # the version that scored it (-1: none)
    latency: Array  # ms (NaN: unknown)
    status: Array
    inputs: Columns
    outputs: Columns

    def __len__(self) -> int:
        return int(self.times.size)

    @classmethod
    def read(cls, blocks: list[bytes], since: datetime, until: datetime) -> Rows:
        """The rows of ``blocks`` scored in ``[since, until)``."""
        table = decode(blocks)
        times = np.asarray(table.column("scored_at").to_numpy(), dtype="datetime64[us]")
        keep = between(times, since, until)
        if not keep.all():
            table = table.filter(pa.array(keep))
            times = times[keep]
        return cls._of(table, times)

    @classmethod
    def _of(cls, table: pa.Table, times: Array) -> Rows:
        def numbers(name: str, fill: Any, dtype: str) -> Array:
            if name not in table.column_names:
                return np.full(table.num_rows, fill, dtype=dtype)
            column = table.column(name).fill_null(fill)
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=dtype)

        def equal(name: str, value: str) -> Array:
            if name not in table.column_names:
                return np.zeros(table.num_rows, dtype=bool)
            same = pc.equal(table.column(name), value).fill_null(False)
            return np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)

        model = equal("source", "model")
        collector = equal("source", "collector")
        names = table.column_names
        return cls(
            times=times,
            request=(numbers("row_index", 0, "int64") == 0) & ~collector,
            model=model,
            compared=model | (collector & equal("designation", "inputs")),
            version=numbers("version", -1, "int64"),
            latency=numbers("latency_ms", np.nan, "float64"),
            status=numbers("status", 200, "int64"),
            inputs={n[len(IN) :]: table.column(n) for n in names if n.startswith(IN)},
            outputs={n[len(OUT) :]: table.column(n) for n in names if n.startswith(OUT)},
        )

    def where(self, mask: Array) -> Rows:
        """The rows in ``mask``."""
        keep = pa.array(mask)
        return Rows(
            times=self.times[mask],
            request=self.request[mask],
            model=self.model[mask],
            compared=self.compared[mask],
            version=self.version[mask],
            latency=self.latency[mask],
            status=self.status[mask],
            inputs={k: v.filter(keep) for k, v in self.inputs.items()},
            outputs={k: v.filter(keep) for k, v in self.outputs.items()},
        )

    def features(self) -> Columns:
        """The inputs of the rows compared with the reference."""
        if self.compared.all():
            return self.inputs
        keep = pa.array(self.compared)
        return {k: v.filter(keep) for k, v in self.inputs.items()}

    def scored_by(self, version: int) -> dict[str, Array]:
        """The outputs of the rows ``version`` scored, as numpy columns."""
        keep = self.model & (self.version == version)
        columns = self.outputs
        if not keep.all():
            picked = pa.array(keep)
            columns = {k: v.filter(picked) for k, v in columns.items()}
        return {k: np.asarray(v.to_numpy(zero_copy_only=False)) for k, v in columns.items()}
