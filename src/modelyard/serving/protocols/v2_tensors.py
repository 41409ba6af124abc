"""Open Inference Protocol (V2) tensors: datatypes, JSON data, and the binary tensor extension.

A request either is JSON alone, or (Triton's binary tensor extension, tritonclient's
default) a JSON header of ``Inference-Header-Content-Length`` bytes followed by the raw
tensors in input order: each ``parameters.binary_data_size`` bytes, little-endian,
row-major; a ``BYTES`` element is a 4-byte little-endian length and its bytes.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

BYTES = "BYTES"
DTYPES: dict[str, str] = {
    "BOOL": "|b1",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BF16": "<u2",  # read as uint16, then widened to float32
}
_INTEGER = {name for name in DTYPES if "INT" in name}
_FLOAT = {"FP16", "FP32", "FP64", "BF16"}
_ENCODINGS = {"gzip": 31, "deflate": 15}


@dataclass(frozen=True)
class Tensor:
    """One named tensor; ``values`` are plain Python values, flat and row-major."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: list[Any]
    parameters: Mapping[str, Any] = field(default_factory=dict)


def datatype_of(values: np.ndarray[Any, Any]) -> str:
    """The V2 datatype of an array of predictions."""
    if values.dtype.kind in "biuf":
        name = {"b": "BOOL", "i": "INT", "u": "UINT", "f": "FP"}[values.dtype.kind]
        if name == "BOOL":
            return name
        bits = values.dtype.itemsize * 8
        return f"{name}{bits}" if f"{name}{bits}" in DTYPES else "FP64"
    return BYTES


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip or deflate), at most ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted: send gzip, deflate or none"
        )
    inflater = zlib.decompressobj(_ENCODINGS[encoding])
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(
            f"the body is not valid {encoding}: {exc}", code="invalid_body"
        ) from None
    if len(out) > limit:
        raise PayloadTooLarge(f"the decompressed body is over the limit of {limit} bytes")
    return out


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tail of a request (the tail is empty without the header)."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit() or int(text) > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {header_length!r}: it must be the length of "
            f"the JSON header, at most the body's {len(body)} bytes",
            code="bad_header",
        )
    return body[: int(text)], body[int(text) :]


def read_tensor(spec: Any, tail: bytes, offset: int, what: str) -> tuple[Tensor, int]:
    """One tensor from its JSON ``spec`` (data, or ``binary_data_size`` bytes of ``tail``
    from ``offset``); returns it and the offset after it."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"each {what} must be an object", code="bad_shape")
    name = spec.get("name")
    datatype = spec.get("datatype")
    shape = spec.get("shape")
    parameters = spec.get("parameters") or {}
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"each {what} needs a name", code="bad_shape")
    if not isinstance(datatype, str) or (datatype not in DTYPES and datatype != BYTES):
        known = ", ".join([*DTYPES, BYTES])
        raise InvalidInput(
            f"{what} {name!r}: datatype {datatype!r} is not one of {known}", code="bad_tensor"
        )
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise InvalidInput(
            f"{what} {name!r}: shape must be a list of non-negative integers, got {shape!r}",
            code="bad_tensor",
        )
    if not isinstance(parameters, Mapping):
        raise InvalidInput(f"{what} {name!r}: parameters must be an object", code="bad_shape")
    count = math.prod(shape)
    size = parameters.get("binary_data_size")
    if size is not None:
        if not _is_count(size) or offset + size > len(tail):
            raise InvalidInput(
                f"{what} {name!r}: binary_data_size {size!r} runs past the "
                f"{len(tail)} bytes after the JSON header"
                + ("" if tail else " (is Inference-Header-Content-Length missing?)"),
                code="bad_tensor",
            )
        chunk = tail[offset : offset + size]
        values = _from_binary(chunk, datatype, count, name)
        offset += size
    else:
        if "data" not in spec:
            raise InvalidInput(
                f"{what} {name!r} has neither data nor parameters.binary_data_size",
                code="bad_tensor",
            )
        values = _from_json(spec["data"], datatype, name)
    if len(values) != count:
        raise InvalidInput(
            f"{what} {name!r} has {len(values)} elements but shape {shape} needs {count}",
            code="bad_tensor",
        )
    return Tensor(name, datatype, tuple(shape), values, parameters), offset


def _from_binary(chunk: bytes, datatype: str, count: int, name: str) -> list[Any]:
    if datatype == BYTES:
        return _byte_strings(chunk, name)
    dtype = np.dtype(DTYPES[datatype])
    if len(chunk) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {name!r}: {len(chunk)} bytes of {datatype} do not hold {count} elements "
            f"({count * dtype.itemsize} bytes)",
            code="bad_tensor",
        )
    array = np.frombuffer(chunk, dtype=dtype)
    if datatype == "BF16":
        array = (array.astype("<u4") << 16).view("<f4")
    values: list[Any] = array.tolist()
    return values


def _byte_strings(chunk: bytes, name: str) -> list[Any]:
    values: list[Any] = []
    offset = 0
    while offset < len(chunk):
        if offset + 4 > len(chunk):
            raise InvalidInput(f"input {name!r}: BYTES element cut short", code="bad_tensor")
        (length,) = struct.unpack_from("<I", chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise InvalidInput(f"input {name!r}: BYTES element cut short", code="bad_tensor")
        values.append(_text(chunk[offset : offset + length], name))
        offset += length
    return values


def _from_json(data: Any, datatype: str, name: str) -> list[Any]:
    values = _flatten(data)
    for i, value in enumerate(values):
        if not _fits(value, datatype):
            raise InvalidInput(
                f"input {name!r} is {datatype} but element {i} is {value!r}",
                code="bad_tensor",
                element=i,
            )
    return values


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(item, list) for item in data):
        return data
    out: list[Any] = []
    for item in data:
        out.extend(_flatten(item))
    return out


def _fits(value: Any, datatype: str) -> bool:
    if datatype == BYTES:
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if datatype in _INTEGER:
        return isinstance(value, int) and (value >= 0 or datatype.startswith("INT"))
    return datatype in _FLOAT and (value is None or isinstance(value, int | float))


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name!r}: a BYTES element is not UTF-8", code="bad_tensor"
        ) from None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
