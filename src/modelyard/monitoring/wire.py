"""Observations as bytes: what the collector buffers and the writer process reads.

The serving process turns each offered observation into one JSON record at once (one
orjson call: the decoded columns and predictions as lists), so its buffer holds bytes
rather than references to request arrays, and the writer, in its own process, turns the
records back into observations. A record is a JSON array of the observation's fields;
a batch is a JSON array of records, framed by its length on the writer's pipe.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd

from modelyard.monitoring.observation import Observation

Array = np.ndarray[Any, Any]
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_LENGTH = struct.Struct(">Q")  # a frame's length, before its bytes


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


def batch(records: list[bytes]) -> bytes:
    """Records as one JSON array."""
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


def decode_batch(data: bytes) -> list[Observation]:
    """A batch's records as observations."""
    return [decode(record) for record in orjson.loads(data)]


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
