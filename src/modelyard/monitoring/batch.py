"""One endpoint's observations of one write, turned into columns once: the rows of the
collection table (inputs and outputs as JSON) and the columnar block reports read are
both made from them, with a numpy concatenation per column rather than work per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np
import orjson

from modelyard.monitoring.observation import IN, OUT, Observation, as_column, output_columns
from modelyard.monitoring.wire import READ_SCALARS, SCALARS, Group
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
        self.counts = [o.rows for o in observations]
        self.size = sum(self.counts)
        self.data: dict[str, list[Any]] = {}
        self.arrays: dict[str, Array] = {}  # the same columns as numpy, when stacked
        self.inputs_json: list[str | None] = []
        self.outputs_json: list[str | None] = []
        each = zip(*map(READ_SCALARS, observations), strict=True)
        self._fields: dict[str, Sequence[Any]] = dict(zip(SCALARS, each, strict=True))
        if _alike(observations):  # the common case: a model endpoint's requests
            self._stack(observations)
            return
        filled = 0
        for observation, rows in zip(observations, self.counts, strict=True):
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

    @classmethod
    def of_group(cls, group: Group) -> Batch:
        """The batch of a group of observations sent as columns (``monitoring.wire``)."""
        batch = cls.__new__(cls)
        batch.endpoint = group.endpoint
        batch.counts = group.rows
        batch.size = sum(group.rows)
        batch._fields = dict(group.fields)
        batch.arrays = {IN + str(name): as_column(v) for name, v in group.inputs.items()}
        batch._finish(as_column(group.outputs), group.classes)
        return batch

    def _stack(self, observations: Sequence[Observation]) -> None:
        """Each column concatenated over the batch at once."""
        first = observations[0]
        inputs = [o.inputs for o in observations if isinstance(o.inputs, Mapping)]
        assert isinstance(first.inputs, Mapping) and len(inputs) == len(observations)
        for name in first.inputs:
            parts = [i[name] for i in inputs]
            if isinstance(parts[0], np.ndarray):
                column = np.concatenate(parts)
            else:  # lists, from JSON records: one conversion for the whole batch
                column = as_column(list(chain.from_iterable(parts)))
            self.arrays[IN + str(name)] = column
        outputs: list[Any] = [o.outputs for o in observations]  # none is None (_alike)
        if isinstance(outputs[0], np.ndarray):
            predictions = np.concatenate([np.asarray(o) for o in outputs])
        else:
            predictions = as_column(list(chain.from_iterable(outputs)))
        self._finish(predictions, first.classes)

    def _finish(self, predictions: Array, classes: Sequence[Any] | None) -> None:
        """Add the output columns of ``predictions`` to the stacked inputs, and make the
        Python values and each row's JSON of them all."""
        self.arrays.update(output_columns(predictions, classes))
        self.data = {name: _plain(column) for name, column in self.arrays.items()}
        self.inputs_json = _texts(self.data, IN, self.size)
        self.outputs_json = _texts(self.data, OUT, self.size)

    def expand(self, values: list[Any]) -> list[Any]:
        """One value per observation, repeated for each of its rows."""
        if self.size == len(self.counts):
            return values
        return [v for v, n in zip(values, self.counts, strict=True) for v in [v] * n]

    def each(self, field: str) -> list[Any]:
        """An observation field's value for each row."""
        return self.expand(list(self._fields[field]))

    def first_at(self) -> datetime:
        """When the batch's first row was scored."""
        moment: datetime = min(self._fields["scored_at"])
        return moment

    def last_at(self) -> datetime:
        """When the batch's last row was scored."""
        moment: datetime = max(self._fields["scored_at"])
        return moment

    @cached_property
    def _moments(self) -> Array:
        """When each observation was scored: numpy UTC microseconds."""
        seconds = np.array([moment.timestamp() for moment in self._fields["scored_at"]])
        return np.round(seconds * 1e6).astype("int64").astype("datetime64[us]")

    def times(self) -> Array:
        """Each row's time, numpy UTC."""
        return np.repeat(self._moments, self.counts)

    def row_index(self) -> list[int]:
        """Each row's position in its request."""
        if self.size == len(self.counts):
            return [0] * self.size
        return [i for n in self.counts for i in range(n)]

    def rows(self) -> list[tuple[Any, ...]]:
        """The collection table's rows, in ``storage.collection.COLUMNS`` order; times are
        naive UTC datetimes."""
        fields = self._fields
        return list(
            zip(
                self.each("endpoint"),
                self.expand([naive_utc(m) for m in fields["scored_at"]]),
                self.expand([clean(r[:128]) for r in fields["request_id"]]),
                self.row_index(),
                self.each("source"),
                self.expand([clean(d[:64]) for d in fields["designation"]]),
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


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, without its zone (as the collection table stores times)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _alike(observations: Sequence[Observation]) -> bool:
    """True if every observation has numpy input columns of the same names, and
    predictions of the same shape and classes (a model endpoint's usual batch)."""
    first = observations[0]
    if not isinstance(first.inputs, Mapping) or first.outputs is None:
        return False
    names, classes, kind = list(first.inputs), first.classes, type(first.inputs)
    if not names:
        return False
    shape = _shape(first.outputs)[1:]
    try:
        for o in observations:  # a plain loop: this runs for every collected request
            inputs, outputs = o.inputs, o.outputs
            if type(inputs) is not kind or outputs is None or o.classes != classes:
                return False
            if list(inputs) != names:
                return False
            got = _shape(outputs)
            if got[1:] != shape or len(inputs[names[0]]) != got[0]:
                return False
    except (TypeError, IndexError):
        return False
    return True


def _shape(values: Any) -> tuple[int, ...]:
    """The shape of an array, or of a list (of rows of equal length) as numpy would see it."""
    if isinstance(values, np.ndarray):
        return tuple(values.shape)
    if isinstance(values, list) and values and isinstance(values[0], list):
        return (len(values), len(values[0]))
    return tuple(np.shape(values))


def _columns(observation: Observation, rows: int) -> dict[str, Array]:
    try:
        columns = observation.columns()
    except (TypeError, ValueError):  # not a table: the request still counts, no values
        return {}
    return {k: v for k, v in columns.items() if v.ndim == 1 and len(v) == rows}
