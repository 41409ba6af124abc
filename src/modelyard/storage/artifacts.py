"""The content-addressed artifact store: immutable blobs named by their sha256.

In a folder a blob is written under a temporary name, flushed, then renamed to
``blobs/ab/abcdef…`` so a reader (or a crash) never sees half a blob; in object storage
it is uploaded under that name once hashed. Names inside a version (``model.skops``,
``vocab/words.txt``) are checked by :func:`safe_relative_name` (``storage.names``) so
that nothing can point outside the store or outside the folder a version is
materialised into.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from modelyard.config.secret import redact_url
from modelyard.config.storage import StorageOptions
from modelyard.errors import ArtifactMissing, HashMismatch
from modelyard.storage import remote
from modelyard.storage.blobcache import SHA_RE, BlobCache, check_sha

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its sha256 (hex) and size in bytes."""

    sha256: str
    size: int


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
    """Immutable blobs in a local folder or in object storage (``s3://…``, ``abfs://…``,
    any fsspec location).

    A folder gets each blob under a temporary name first, then renamed. Object storage
    gets it under its final name directly once hashed (an object appears whole or not
    at all), and reads go through ``cache`` (a :class:`BlobCache` folder) when given, so
    that the replicas of one machine download each blob once. Every read is checked
    against the blob's sha256 wherever it came from.
    """

    def __init__(
        self,
        location: str,
        *,
        options: StorageOptions | None = None,
        cache: Path | None = None,
    ) -> None:
        self.location = location
        self._options = options or StorageOptions()
        self._fs, root, self._local = remote.filesystem(location, self._options)
        self._root = str(Path(root).resolve()) if self._local else root.rstrip("/")
        self._cache = BlobCache(cache) if cache is not None and not self._local else None
        if self._local:
            self._fs.makedirs(f"{self._root}/blobs", exist_ok=True)
            self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)

    def blob_path(self, sha256: str) -> str:
        """Where the blob with this digest lives (inside the store, always)."""
        sha = check_sha(sha256)
        return f"{self._root}/blobs/{sha[:2]}/{sha}"

    def exists(self, sha256: str) -> bool:
        """True if the store holds this blob."""
        with self._translated():
            return bool(self._fs.exists(self.blob_path(sha256)))

    def put_file(self, path: Path) -> BlobInfo:
        """Copy a local file into the store, hashing as it goes."""
        if self._local:
            with path.open("rb") as source:
                return self.put_stream(source)
        info = sha256_file(path)
        if not self.exists(info.sha256):
            with self._translated():
                self._fs.put_file(str(path), self.blob_path(info.sha256))
        return info

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes held in memory."""
        info = BlobInfo(hashlib.sha256(data).hexdigest(), len(data))
        if self.exists(info.sha256):
            return info
        if not self._local:
            with self._translated():
                self._fs.pipe_file(self.blob_path(info.sha256), data)
            return info
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, source: IO[bytes]) -> BlobInfo:
        """Store a stream: write to a temporary name, then rename to its digest (object
        storage: spooled to a local file, then uploaded under its digest)."""
        if not self._local:
            with tempfile.TemporaryDirectory(prefix="modelyard-upload-") as folder:
                spool = Path(folder) / "blob"
                with spool.open("wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                return self.put_file(spool)
        digest = hashlib.sha256()
        size = 0
        tmp = self._tmp_name()
        try:
            with self._translated(), self._fs.open(tmp, "wb") as out:
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
        cached = self._cache.get(sha256) if self._cache is not None else None
        if cached is not None:
            data = cached
        else:
            try:
                with self._translated(reading=True):
                    data = self._fs.cat_file(path)
            except FileNotFoundError:
                raise ArtifactMissing(
                    f"blob {sha256} is missing from the artifact store {redact_url(self.location)}",
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
        if cached is None and self._cache is not None:
            self._cache.put(sha256, data)
        return data

    def verify(self, sha256: str) -> str | None:
        """Return the actual digest of the stored blob, or None if it is missing (read
        from the store itself, never from the cache)."""
        path = self.blob_path(sha256)
        digest = hashlib.sha256()
        try:
            with self._translated(reading=True), self._fs.open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def iter_blobs(self) -> Iterator[str]:
        """Every blob digest in the store."""
        with self._translated():
            paths = self._fs.find(f"{self._root}/blobs")
        for path in paths:
            name = str(path).rsplit("/", 1)[-1]
            if SHA_RE.fullmatch(name):
                yield name

    def stale_temporaries(self) -> list[str]:
        """Temporary files left by interrupted writes (safe to delete when no write runs)."""
        if not self._local:
            return []  # objects are written under their final name: there are none
        return [str(p) for p in self._fs.find(f"{self._root}/tmp")]

    def remove_temporaries(self) -> int:
        """Delete interrupted writes' leftovers; returns how many."""
        stale = self.stale_temporaries()
        for path in stale:
            self._fs.rm(path)
        return len(stale)

    def _translated(self, *, reading: bool = False) -> AbstractContextManager[None]:
        return remote.translated(self.location, self._options, reading=reading)

    def _tmp_name(self) -> str:
        return f"{self._root}/tmp/{uuid.uuid4().hex}.part"

    def _publish(self, tmp: str, sha256: str) -> None:
        # A local folder: read-only before it is visible; os.replace is atomic on one
        # filesystem, and a concurrent writer of the same digest writes the same bytes.
        final = self.blob_path(sha256)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        _fsync_dir(os.path.dirname(final))


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
