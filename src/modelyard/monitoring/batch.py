"""One endpoint's observations of one write, turned into columns once: the rows of the
collection table (inputs and outputs as JSON) and the columnar block reports read are
both made from them, with a numpy concatenation per column rather than work per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from modelyard.monitoring.observation import IN, OUT, Observation, output_columns
from modelyard.storage.collection import clean

Array = np.ndarray[Any, Any]


def _plain(values: Array) -> list[Any]:
    """Python values of a column, as JSON writes them (times as ISO text)."""
    if values.dtype.kind == "M":
        return [None if np.isnat(v) else str(v) for v in values]
    out: list[Any] = values.tolist()
    return out


def _texts(columns: Mapping[str, list[Any]], prefix: str, rows: int) -> list[str | None]:
    """One JSON object per row of the ``prefix`` columns (None for each row without)."""
    names = [k for k in columns if k.startswith(prefix)]
    if not names:
        return [None] * rows
    keys = [k[len(prefix) :] for k in names]
    dumps, numpy = orjson.dumps, orjson.OPT_SERIALIZE_NUMPY  # numpy scalars in object columns
    return [
        dumps(dict(zip(keys, row, strict=True)), option=numpy).decode()
        for row in zip(*(columns[k] for k in names), strict=True)
    ]


class Batch:
    """The rows of one endpoint's observations, as columns of Python values."""

    def __init__(self, observations: Sequence[Observation]) -> None:
        self.endpoint = observations[0].endpoint
        self.observations = list(observations)
        self.counts = [o.rows for o in self.observations]
        self.size = sum(self.counts)
        self.data: dict[str, list[Any]] = {}
        self.arrays: dict[str, Array] = {}  # the same columns as numpy, when stacked
        self.inputs_json: list[str | None] = []
        self.outputs_json: list[str | None] = []
        if _alike(self.observations):  # the common case: a model endpoint's requests
            self._stack()
            return
        filled = 0
        for observation, rows in zip(self.observations, self.counts, strict=True):
            columns = {k: _plain(v) for k, v in _columns(observation, rows).items()}
            for name, values in columns.items():
                target = self.data.get(name)
                if target is None:
                    target = self.data[name] = [None] * filled
                target.extend(values)
            filled += rows
            for target in self.data.values():
                if len(target) < filled:
                    target.extend([None] * (filled - len(target)))
            # each row's JSON holds its own request's names only
            self.inputs_json += _texts(columns, IN, rows)
            self.outputs_json += _texts(columns, OUT, rows)

    def _stack(self) -> None:
        """Each column concatenated over the batch at once."""
        observations = self.observations
        first = observations[0]
        inputs = [o.inputs for o in observations if isinstance(o.inputs, Mapping)]
        assert isinstance(first.inputs, Mapping) and len(inputs) == len(observations)
        for name in first.inputs:
            column = np.concatenate([np.asarray(i[name]) for i in inputs])
            self.arrays[IN + str(name)] = column
        predictions = np.concatenate([np.asarray(o.outputs) for o in observations])
        self.arrays.update(output_columns(predictions, first.classes))
        self.data = {name: _plain(column) for name, column in self.arrays.items()}
        self.inputs_json = _texts(self.data, IN, self.size)
        self.outputs_json = _texts(self.data, OUT, self.size)

    def expand(self, values: list[Any]) -> list[Any]:
        """One value per observation, repeated for each of its rows."""
        if self.size == len(self.observations):
            return values
        return [v for v, n in zip(values, self.counts, strict=True) for v in [v] * n]

    def each(self, field: str) -> list[Any]:
        """An observation field's value for each row."""
        return self.expand([getattr(o, field) for o in self.observations])

    def first_at(self) -> datetime:
        """When the batch's first row was scored."""
        return min(o.scored_at for o in self.observations)

    def last_at(self) -> datetime:
        """When the batch's last row was scored."""
        return max(o.scored_at for o in self.observations)

    def times(self) -> Array:
        """Each row's time, numpy UTC."""
        seconds = np.array([o.scored_at.timestamp() for o in self.observations])
        moments = np.round(seconds * 1e6).astype("int64").astype("datetime64[us]")
        return np.repeat(moments, self.counts)

    def row_index(self) -> list[int]:
        """Each row's position in its request."""
        if self.size == len(self.observations):
            return [0] * self.size
        return [i for n in self.counts for i in range(n)]

    def rows(self) -> list[tuple[Any, ...]]:
        """The collection table's rows, in ``storage.collection.COLUMNS`` order."""
        return list(
            zip(
                self.each("endpoint"),
                self.each("scored_at"),
                self.expand([clean(o.request_id[:128]) for o in self.observations]),
                self.row_index(),
                self.each("source"),
                self.expand([clean(o.designation[:64]) for o in self.observations]),
                self.each("model"),
                self.each("version"),
                self.each("alias"),
                self.inputs_json,
                self.outputs_json,
                self.each("latency_ms"),
                self.each("status"),
                self.each("error_code"),
                strict=True,
            )
        )


def _alike(observations: list[Observation]) -> bool:
    """True if every observation has numpy input columns of the same names, and
    predictions of the same shape and classes (a model endpoint's usual batch)."""
    first = observations[0]
    if not isinstance(first.inputs, Mapping) or first.outputs is None:
        return False
    names, classes = list(first.inputs), first.classes
    if not names:
        return False
    shape = np.shape(first.outputs)[1:]
    try:
        return all(
            isinstance(o.inputs, Mapping)
            and list(o.inputs) == names
            and o.outputs is not None
            and o.classes == classes
            and np.shape(o.outputs)[1:] == shape
            and len(o.inputs[names[0]]) == len(o.outputs)
            for o in observations
        )
    except TypeError:
        return False


def _columns(observation: Observation, rows: int) -> dict[str, Array]:
    try:
        columns = observation.columns()
    except (TypeError, ValueError):  # not a table: the request still counts, no values
        return {}
    return {k: v for k, v in columns.items() if v.ndim == 1 and len(v) == rows}
