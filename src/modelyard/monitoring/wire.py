"""Observations as bytes: what the collector buffers and the writer process reads.

A model endpoint's scored request is written as JSON the moment it is answered
(``scored``: its fields and the ``tolist()`` of its columns and predictions): the
collector then holds bytes instead of a hundred requests' arrays (holding those until
their chunk was written cost 2 % of the request rate), and the serving process builds no
``Observation`` and concatenates no column (4.4 µs a churn request in a loop of the
hook, 6.4 µs that way: bench/collect_hook.py). The collector sends the scored requests of
a chunk as one item (``scored_item``), and the writer process, on another core, turns
those of one kind (endpoint, input names, classes, prediction width) into one ``Group``
of columns (``decode_scored``). Any other observation (an entry script's answer, a
refused request, a script collector's rows) travels as one **record**: a JSON array of its
fields in ``Observation`` order. A batch is a JSON array of items, framed by its length
on the writer's pipe.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
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
# What a scored request has, between its kind and its input values and predictions (the
# other fields of its observation are those of every scored request).
SCORED_FIELDS = ("request_id", "scored_at", "latency_ms", "status", "model", "version", "alias")


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


def scored(
    endpoint: str,
    names: Sequence[str],
    classes: Sequence[Any] | None,
    fields: tuple[Any, ...],
    values: list[Any],
    outputs: list[Any],
) -> bytes:
    """A model endpoint's scored request as the collector keeps it: one JSON array of
    its endpoint, input ``names``, ``classes``, ``fields`` (``SCORED_FIELDS``' values,
    ``scored_at`` in seconds since the epoch), input ``values`` (a list per input, one
    value per row) and ``outputs`` (a value, or a list of ``classes``' probabilities, per
    row). ``TypeError``/``JSONEncodeError`` for a value JSON cannot hold."""
    return orjson.dumps(
        (endpoint, names, classes, *fields, values, outputs), option=_OPTIONS, default=_plain
    )


def scored_item(requests: list[bytes]) -> bytes:
    """Scored requests (each from ``scored``) as one item of a batch."""
    return b'{"scored":[' + b",".join(requests) + b"]}"


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


def decode_scored(requests: list[list[Any]]) -> list[Observation | Group]:
    """Scored requests (parsed) as columns: those of one kind (endpoint, input names,
    classes, prediction width) as one ``Group``; one whose inputs are not one value per
    row as an observation of its own (written as a record)."""
    kinds: dict[tuple[Any, ...], list[list[Any]]] = {}
    odd: list[Observation | Group] = []
    for request in requests:
        endpoint, names, classes, *_, values, outputs = request
        rows = len(outputs)
        if (
            not rows
            or len(values) != len(names)
            or any(type(v) is not list or len(v) != rows for v in values)
        ):
            odd.append(_observation(request))
            continue
        width = len(outputs[0]) if type(outputs[0]) is list else None
        kind = (endpoint, tuple(names), orjson.dumps(classes), width)
        kinds.setdefault(kind, []).append(request)
    return [*map(_group, kinds.values()), *odd]


def _group(requests: list[list[Any]]) -> Group:
    """Scored requests of one kind as one group of columns."""
    endpoint, names, classes = requests[0][:3]
    n = len(requests)
    request_id, moments, latency_ms, status, model, version, alias, values, outputs = zip(
        *(r[3:] for r in requests), strict=True
    )
    fields = {
        "endpoint": [endpoint] * n,
        "request_id": list(request_id),
        "scored_at": [datetime.fromtimestamp(m, UTC) for m in moments],
        "source": ["model"] * n,
        "status": list(status),
        "latency_ms": list(latency_ms),
        "model": list(model),
        "version": list(version),
        "alias": list(alias),
        "error_code": [None] * n,
        "designation": [""] * n,
    }
    inputs = {name: list(chain.from_iterable(v[i] for v in values)) for i, name in enumerate(names)}
    rows = [len(o) for o in outputs]
    return Group(endpoint, fields, rows, inputs, list(chain.from_iterable(outputs)), classes)


def _observation(request: list[Any]) -> Observation:
    """A scored request as an observation (one whose columns are not one value per row:
    the record path stores what it can of it)."""
    endpoint, names, classes, request_id, moment, latency_ms, status, model, version, alias = (
        request[:10]
    )
    values, outputs = request[10:]
    return Observation(
        endpoint,
        request_id,
        datetime.fromtimestamp(moment, UTC),
        "model",
        status,
        latency_ms,
        model,
        version,
        alias,
        dict(zip(map(str, names), values, strict=False)),
        outputs,
        classes,
    )


def decode_batch(data: bytes) -> list[Observation | Group]:
    """A batch's items: each record as an observation; the scored requests of an item
    as a ``Group`` per kind, and an observation each for those that are not one value per
    row (``decode_scored``)."""
    items: list[Observation | Group] = []
    for item in orjson.loads(data):
        if type(item) is list:
            items.append(decode(item))
        else:
            items += decode_scored(item["scored"])
    return items


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
