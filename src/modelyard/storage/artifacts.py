"""The content-addressed artifact store: immutable blobs named by their sha256.

A blob is written under a temporary name, flushed, then renamed to
``blobs/ab/abcdef…`` so a reader (or a crash) never sees half a blob. Names
inside a version (``model.skops``, ``vocab/words.txt``) are checked by
:func:`safe_relative_name` so that nothing can point outside the store or
outside the folder a version is materialised into.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote

import fsspec

from modelyard.errors import ArtifactMissing, HashMismatch, UnsafePath

CHUNK = 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its sha256 (hex) and size in bytes."""

    sha256: str
    size: int


def safe_relative_name(name: str) -> str:
    """Return ``name`` as a clean relative POSIX path, or raise ``UnsafePath``.

    Refused: empty names, absolute paths, drive letters, backslashes, NUL and
    control characters, ``.`` and ``..`` components, and percent-encoded
    forms of any of these (``%2e%2e``, ``%2f``, ``%5c``, ``%00``).
    """
    decoded = name
    for _ in range(3):  # undo double and triple encoding too
        decoded = unquote(decoded)
    for candidate in (name, decoded):
        if not candidate or candidate != candidate.strip():
            raise UnsafePath(f"artifact name {name!r} is empty or has surrounding spaces")
        if any(ord(ch) < 32 or ch == "\x7f" for ch in candidate):
            raise UnsafePath(f"artifact name {name!r} contains a NUL or control character")
        if "\\" in candidate:
            raise UnsafePath(f"artifact name {name!r} contains a backslash: use '/'")
        if candidate.startswith("/") or _WINDOWS_DRIVE.match(candidate):
            raise UnsafePath(f"artifact name {name!r} is absolute: names are relative")
        parts = candidate.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise UnsafePath(f"artifact name {name!r} has an empty, '.' or '..' component")
    if decoded != name:
        raise UnsafePath(f"artifact name {name!r} is percent-encoded: give the plain name")
    return str(PurePosixPath(name))


def _check_sha(sha256: str) -> str:
    if not _SHA_RE.match(sha256):
        raise UnsafePath(f"{sha256!r} is not a sha256 hex digest")
    return sha256


def sha256_file(path: Path) -> BlobInfo:
    """Hash a local file in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return BlobInfo(digest.hexdigest(), size)


class ArtifactStore:
    """Immutable blobs in a local folder or any fsspec location (``s3://…``, ``memory://…``)."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._fs, root = fsspec.core.url_to_fs(location)
        self._local = "file" in _protocols(self._fs)
        self._root = str(Path(root).resolve()) if self._local else root.rstrip("/")
        self._fs.makedirs(f"{self._root}/blobs", exist_ok=True)
        self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)

    def blob_path(self, sha256: str) -> str:
        """Where the blob with this digest lives (inside the store, always)."""
        sha = _check_sha(sha256)
        return f"{self._root}/blobs/{sha[:2]}/{sha}"

    def exists(self, sha256: str) -> bool:
        """True if the store holds this blob."""
        return bool(self._fs.exists(self.blob_path(sha256)))

    def put_file(self, path: Path) -> BlobInfo:
        """Copy a local file into the store, hashing as it goes."""
        with path.open("rb") as source:
            return self.put_stream(source)

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes held in memory."""
        info = BlobInfo(hashlib.sha256(data).hexdigest(), len(data))
        if not self.exists(info.sha256):
            tmp = self._tmp_name()
            with self._fs.open(tmp, "wb") as out:
                out.write(data)
                _fsync(out)
            self._publish(tmp, info.sha256)
        return info

    def put_stream(self, source: IO[bytes]) -> BlobInfo:
        """Store a stream: write to a temporary name, then rename to its digest."""
        digest = hashlib.sha256()
        size = 0
        tmp = self._tmp_name()
        try:
            with self._fs.open(tmp, "wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                _fsync(out)
            info = BlobInfo(digest.hexdigest(), size)
            if self.exists(info.sha256):
                self._fs.rm(tmp)
            else:
                self._publish(tmp, info.sha256)
            return info
        except BaseException:
            if self._fs.exists(tmp):
                self._fs.rm(tmp)
            raise

    def read_bytes(self, sha256: str, *, expected_size: int | None = None) -> bytes:
        """Read a whole blob and check its digest before returning a single byte."""
        path = self.blob_path(sha256)
        try:
            with self._fs.open(path, "rb") as handle:
                data: bytes = handle.read()
        except FileNotFoundError:
            raise ArtifactMissing(
                f"blob {sha256} is missing from the artifact store {self.location}",
                sha256=sha256,
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256 or (expected_size is not None and len(data) != expected_size):
            raise HashMismatch(
                f"blob {path} was modified: expected sha256 {sha256} ({expected_size} bytes), "
                f"found {actual} ({len(data)} bytes)",
                expected=sha256,
                actual=actual,
            )
        return data

    def verify(self, sha256: str) -> str | None:
        """Return the actual digest of the stored blob, or None if it is missing."""
        path = self.blob_path(sha256)
        if not self._fs.exists(path):
            return None
        digest = hashlib.sha256()
        with self._fs.open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def iter_blobs(self) -> Iterator[str]:
        """Every blob digest in the store."""
        for path in self._fs.find(f"{self._root}/blobs"):
            name = str(path).rsplit("/", 1)[-1]
            if _SHA_RE.match(name):
                yield name

    def stale_temporaries(self) -> list[str]:
        """Temporary files left by interrupted writes (safe to delete when no write runs)."""
        return [str(p) for p in self._fs.find(f"{self._root}/tmp")]

    def remove_temporaries(self) -> int:
        """Delete interrupted writes' leftovers; returns how many."""
        stale = self.stale_temporaries()
        for path in stale:
            self._fs.rm(path)
        return len(stale)

    def _tmp_name(self) -> str:
        return f"{self._root}/tmp/{uuid.uuid4().hex}.part"

    def _publish(self, tmp: str, sha256: str) -> None:
        final = self.blob_path(sha256)
        self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self._local:
            # Read-only before it is visible; os.replace is atomic on one filesystem, and
            # a concurrent writer of the same digest writes the same bytes, so either wins.
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            _fsync_dir(os.path.dirname(final))
        else:
            self._fs.mv(tmp, final)


def materialize_file(data: bytes, target_root: Path, name: str) -> Path:
    """Write ``data`` at ``target_root/name``, refusing any name that escapes the root.

    Symlinks already inside the target are never followed out of it.
    """
    root = target_root.resolve()
    rel = safe_relative_name(name)
    dest = root / rel
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(root):
        raise UnsafePath(f"artifact name {name!r} leads through a symlink outside {root}")
    if dest.is_symlink():
        raise UnsafePath(f"artifact name {name!r} is a symlink in {root}: refusing to follow it")
    tmp = parent / f".{dest.name}.{uuid.uuid4().hex}.part"
    with tmp.open("xb") as out:
        out.write(data)
    os.replace(tmp, dest)
    return dest


def collect_folder(folder: Path) -> list[tuple[str, Path]]:
    """List the regular files under ``folder`` as (safe relative name, path).

    A symlink that resolves outside ``folder`` is refused; one that stays inside
    is stored as the file it points to.
    """
    root = folder.resolve()
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for dirname in list(dirnames):
            link = here / dirname
            if link.is_symlink() and not link.resolve().is_relative_to(root):
                raise UnsafePath(f"{link} is a symlink pointing outside {root}")
        for filename in sorted(filenames):
            path = here / filename
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise UnsafePath(f"{path} is a symlink pointing outside {root}")
            if not path.resolve().is_file():
                continue
            files.append((safe_relative_name(path.relative_to(root).as_posix()), path))
    return sorted(files)


def _fsync(handle: Any) -> None:
    try:
        handle.flush()
        os.fsync(handle.fileno())
    except (AttributeError, OSError, ValueError):  # remote file objects have no fileno
        pass


def _fsync_dir(path: str) -> None:
    """Persist a rename: without it a power loss may forget the new name."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
