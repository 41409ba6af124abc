"""Observations as bytes: what the collector buffers and the writer process reads.

The collector turns the observations offered to it into the items of a batch, a chunk at
a time, and the writer, in its own process, turns them back. A model endpoint's
scored requests whose inputs have the same names and whose predictions have the same
shape (nearly all of them) travel as one **group**: a JSON object of columns, each input
and the predictions concatenated over the group with numpy and written by one orjson
call, the scalar fields a list each. Any other observation (an entry script's answer,
a refused request, a script collector's rows) travels as one **record**: a JSON array of
its fields in ``Observation`` order. A batch is a JSON array of items, framed by its
length on the writer's pipe.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd

from modelyard.monitoring.observation import Observation

Array = np.ndarray[Any, Any]
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_LENGTH = struct.Struct(">Q")  # a frame's length, before its bytes
# The scalar fields of an observation (a list each in a group), and reading them in one call.
SCALARS = (
    "endpoint", "request_id", "scored_at", "source", "status", "latency_ms", "model",
    "version", "alias", "error_code", "designation",
)  # fmt: skip
READ_SCALARS = attrgetter(*SCALARS)


@dataclass(slots=True)
class Group:
    """Observations of one endpoint, alike in shape, as columns (decoded from a batch)."""

    endpoint: str
    fields: dict[str, list[Any]]  # each of ``SCALARS``: a value per observation
    rows: list[int]  # each observation's rows
    inputs: dict[str, list[Any]]  # each input: the values of all rows
    outputs: list[Any]  # the predictions of all rows (a list per row for probabilities)
    classes: list[Any] | None

    def key(self) -> tuple[Any, ...]:
        """What groups that can be written as one share: endpoint, inputs, outputs."""
        outputs = self.outputs
        width = len(outputs[0]) if outputs and type(outputs[0]) is list else None
        classes = orjson.dumps(self.classes)  # as JSON: classes may be lists (no key)
        return (self.endpoint, tuple(self.inputs), width, classes)

    def extend(self, other: Group) -> None:
        """Append ``other``'s observations (a group of the same ``key``)."""
        for name, values in self.fields.items():
            values += other.fields[name]
        for name, values in self.inputs.items():
            values += other.inputs[name]
        self.rows += other.rows
        self.outputs += other.outputs


def merged(groups: Sequence[Group]) -> list[Group]:
    """``groups`` with those of the same ``key`` as one (the first, extended in place)."""
    out: dict[tuple[Any, ...], Group] = {}
    for group in groups:
        key = group.key()
        first = out.get(key)
        if first is None:
            out[key] = group
        else:
            first.extend(group)
    return list(out.values())


def _plain(value: Any) -> Any:
    """What orjson cannot write itself, as plain values (text as the last resort: a
    script may send anything, and a value that cannot be stored as it is is stored as
    its text rather than losing the row)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.DataFrame):
        return {str(k): value[k].tolist() for k in value.columns}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset | pd.Series | pd.Index):
        return list(value)
    return str(value)


def encode(observation: Observation) -> bytes:
    """One observation as a JSON record: its fields in ``Observation`` order."""
    o = observation
    inputs, outputs = o.inputs, o.outputs
    if type(inputs) is dict:  # lists rather than arrays: orjson writes a few values faster
        inputs = {k: v.tolist() if type(v) is np.ndarray else v for k, v in inputs.items()}
    if type(outputs) is np.ndarray:
        outputs = outputs.tolist()
    record = (
        o.endpoint, o.request_id, o.scored_at, o.source, o.status, o.latency_ms, o.model,
        o.version, o.alias, inputs, outputs, o.classes, o.error_code, o.designation,
    )  # fmt: skip
    return orjson.dumps(record, option=_OPTIONS, default=_plain)


def groups(observations: Sequence[Observation]) -> list[list[Observation]]:
    """``observations`` split into what can travel as one group each (a model endpoint's
    scored requests with the same input names, prediction shape and classes) and, one
    each, the others."""
    alike: dict[tuple[Any, ...], list[Observation]] = {}
    single: list[list[Observation]] = []
    for o in observations:  # a plain loop: this runs once per collected request
        inputs, outputs = o.inputs, o.outputs
        if type(inputs) is not dict or type(outputs) is not np.ndarray or not outputs.size:
            single.append([o])
            continue
        classes = None if o.classes is None else tuple(o.classes)
        key = (o.endpoint, tuple(inputs), outputs.shape[1:], classes)
        try:
            found = alike.get(key)
        except TypeError:  # a class that is no key (a list, say): a record of its own
            single.append([o])
            continue
        if found is None:
            alike[key] = [o]
        else:
            found.append(o)
    return [*alike.values(), *single]


def _writable(column: Array) -> Any:
    """A column as orjson writes it at once: numbers as the numpy array (floats as wide as
    the client was answered), anything else as a list."""
    if column.dtype.kind in "biu" or column.dtype == np.float64:
        return column
    if column.dtype.kind == "f":
        return column.astype(np.float64)
    return column.tolist()


def encode_group(group: Sequence[Observation]) -> bytes:
    """The observations of one of ``groups`` as one item: a group's columns, or the
    record of a group of one. ``ValueError`` if their columns are not of their rows (the
    caller writes each as a record instead)."""
    if len(group) == 1:
        return encode(group[0])
    first = group[0]
    assert isinstance(first.inputs, dict) and first.outputs is not None  # as groups() made
    rows = [len(o.outputs) for o in group]  # type: ignore[arg-type]
    total = sum(rows)
    inputs = {}
    for name in first.inputs:
        column = np.concatenate([o.inputs[name] for o in group])  # type: ignore[index]
        if column.ndim != 1 or len(column) != total:
            raise ValueError(f"input {name!r} is not one value per row")
        inputs[name] = _writable(column)
    each = zip(*map(READ_SCALARS, group), strict=True)  # a tuple per field
    item = {
        "endpoint": first.endpoint,
        "fields": dict(zip(SCALARS, map(list, each), strict=True)),
        "rows": rows,
        "inputs": inputs,
        "outputs": _writable(np.concatenate([o.outputs for o in group])),
        "classes": first.classes,
    }
    return orjson.dumps(item, option=_OPTIONS, default=_plain)


def batch(records: list[bytes]) -> bytes:
    """Items (records and groups) as one JSON array."""
    return b"[" + b",".join(records) + b"]"


def decode(record: list[Any]) -> Observation:
    """A record (parsed) back as an observation."""
    (
        endpoint, request_id, scored_at, source, status, latency_ms, model, version, alias,
        inputs, outputs, classes, error_code, designation,
    ) = record  # fmt: skip
    # columns stay lists: a batch turns each into numpy once, over all its observations
    return Observation(
        endpoint,
        request_id,
        datetime.fromisoformat(scored_at),
        source,
        status,
        latency_ms,
        model,
        version,
        alias,
        inputs,
        outputs,
        classes,
        error_code,
        designation,
    )


def decode_batch(data: bytes) -> list[Observation | Group]:
    """A batch's items: each record as an observation, each group as a ``Group``."""
    return [decode(item) if type(item) is list else Group(**item) for item in orjson.loads(data)]


def write_frame(stream: IO[bytes], data: bytes) -> None:
    """Write ``data`` as one frame (its length, then its bytes) and flush."""
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's bytes, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data
