"""Whether bytes are, or contain, a pickle that would run code when loaded: decided by
content, never by a name or the first two bytes.

What is looked through, without unpickling anything:

- the compressions joblib writes (gzip, zlib, bz2, xz, lzma-alone), layer after layer;
- zip and tar archives, member by member (a PyTorch ``.pt`` is a zip holding a pickle);
- the opcode stream itself, with ``pickletools``: every protocol, 0 included (``cos\\n
  system\\n...``), from the first byte or after leading whitespace (a newline-prefixed
  pickle). A stream is a pickle that can run code once it imports a global or calls one
  (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``, ``REDUCE``, ``NEWOBJ``, ``BUILD``...)
  and parses on: to ``STOP``, or for several opcodes more (joblib interleaves raw array
  bytes after its opcodes). A pickle of plain data imports nothing and runs nothing.

Inspection is bounded: at most :data:`MAX_INSPECTED` decompressed bytes per stream,
:data:`MAX_MEMBERS` archive members and :data:`MAX_DEPTH` nested layers.
"""

from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import tarfile
import zipfile
import zlib
from collections.abc import Callable

MAX_INSPECTED = 64 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_DEPTH = 6
CODE_OPCODES = frozenset(
    {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"}
    | {"EXT1", "EXT2", "EXT4"}
)
_AFTER_CODE = 8  # opcodes parsed past the first code opcode that make a stream a pickle


def find_pickle(data: bytes, name: str = "", depth: int = 0) -> str | None:
    """Where ``data`` (named ``name``) holds a pickle that can run code, e.g.
    ``model.joblib (gzip)`` or ``bundle.zip: inner/model.pkl``; None if it holds none."""
    if depth > MAX_DEPTH:
        return f"{name} (nested more than {MAX_DEPTH} layers deep: not inspected)"
    inflated = _decompressed(data)
    if inflated is not None:
        kind, inner = inflated
        found = find_pickle(inner, name, depth + 1)
        return f"{found} ({kind})" if found is not None and not found.endswith(")") else found
    members = _members(data)
    if members is not None:
        for member, read in members:
            found = find_pickle(read(), f"{name}: {member}" if name else member, depth + 1)
            if found is not None:
                return found
        return None
    return name or "the bytes" if is_pickle(data) else None


def is_pickle(data: bytes) -> bool:
    """True if ``data`` is an opcode stream that imports or calls code, from its first
    byte or after leading whitespace."""
    starts = {0, len(data) - len(data.lstrip(b" \t\r\n\x0b\x0c\xef\xbb\xbf"))}
    return any(_runs_code(data, start) for start in starts if start < len(data))


def _runs_code(data: bytes, start: int) -> bool:
    stream = io.BytesIO(data[start : start + MAX_INSPECTED])
    seen_code = False
    after = 0
    try:
        for opcode, _, _ in pickletools.genops(stream):
            if opcode.name in CODE_OPCODES:
                seen_code = True
            elif seen_code:
                after += 1
            if opcode.name == "STOP":
                return seen_code
            if seen_code and after >= _AFTER_CODE:
                return True
    except Exception:  # not (or no longer) an opcode stream: judge what parsed
        return seen_code and after >= _AFTER_CODE
    return False


def _decompressed(data: bytes) -> tuple[str, bytes] | None:
    """(kind, up to MAX_INSPECTED bytes) if ``data`` is compressed as joblib writes."""
    head = data[:6]
    attempts: list[tuple[str, Callable[[], bytes]]] = []
    if head.startswith(b"\x1f\x8b"):
        attempts.append(("gzip", lambda: _inflate(zlib.decompressobj(31), data)))
    if head[:1] == b"\x78" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        attempts.append(("zlib", lambda: _inflate(zlib.decompressobj(), data)))
    if head.startswith(b"BZh"):
        attempts.append(("bz2", lambda: bz2.BZ2Decompressor().decompress(data, MAX_INSPECTED)))
    if head.startswith(b"\xfd7zXZ\x00"):
        attempts.append(("xz", lambda: lzma.LZMADecompressor().decompress(data, MAX_INSPECTED)))
    if head[:1] == b"\x5d":  # lzma-alone: properties byte 0x5d, then the dictionary size
        alone = lzma.FORMAT_ALONE
        attempts.append(
            ("lzma", lambda: lzma.LZMADecompressor(alone).decompress(data, MAX_INSPECTED))
        )
    for kind, inflate in attempts:
        try:
            inner = inflate()
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
            continue
        if inner:
            return kind, inner
    return None


def _inflate(decompressor: zlib._Decompress, data: bytes) -> bytes:
    return decompressor.decompress(data, MAX_INSPECTED)


def _members(data: bytes) -> list[tuple[str, Callable[[], bytes]]] | None:
    """The members of a zip or tar archive (name, reader of its first bytes), else None."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = [i for i in archive.infolist() if not i.is_dir()][:MAX_MEMBERS]
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        return [(i.filename, _zip_reader(archive, i)) for i in infos]
    if len(data) > 262 and data[257:262] == b"ustar":
        try:
            tar = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115  # in memory, read lazily
            files = [m for m in tar.getmembers() if m.isfile()][:MAX_MEMBERS]
        except (tarfile.TarError, OSError, ValueError):
            return None
        return [(m.name, _tar_reader(tar, m)) for m in files]
    return None


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with archive.open(info) as handle:
                return handle.read(MAX_INSPECTED)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
            return b""

    return read


def _tar_reader(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        handle = tar.extractfile(member)
        return handle.read(MAX_INSPECTED) if handle is not None else b""

    return read
