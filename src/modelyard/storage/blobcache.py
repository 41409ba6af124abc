"""Blobs already read from object storage, kept on local disk under their sha256.

Blobs never change, so a copy named by its digest stays right forever: the replicas of
one machine (and its restarts) download each blob once. Every read is checked against
the name; a copy that does not match (a disk error, a hand edit) is deleted and read
again from the store. Writes go to a temporary name, then are renamed, so a reader or
a crash never sees half a blob. The folder can be emptied at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path

from modelyard.errors import UnsafePath

SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def check_sha(sha256: str) -> str:
    """``sha256`` if it is a sha256 hex digest (safe as a file name), else ``UnsafePath``:
    a digest from a row edited behind the registry's back must not name another path."""
    if not SHA_RE.fullmatch(sha256):
        raise UnsafePath(f"{sha256[:100]!r} is not a sha256 hex digest")
    return sha256


class BlobCache:
    """A folder of verified blobs, ``ab/abcdef…`` by sha256."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, sha256: str) -> Path:
        # outside the folder, a path would be read, then deleted as a bad copy
        check_sha(sha256)
        return self.folder / sha256[:2] / sha256

    def get(self, sha256: str) -> bytes | None:
        """The blob's bytes if a copy matching ``sha256`` is here, else None."""
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return data

    def put(self, sha256: str, data: bytes) -> None:
        """Keep ``data`` (already verified to be ``sha256``); a cache that cannot be
        written (disk full, read-only) is skipped, never an error."""
        path = self._path(sha256)
        tmp = path.parent / f".{sha256}.{uuid.uuid4().hex}.part"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("xb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
