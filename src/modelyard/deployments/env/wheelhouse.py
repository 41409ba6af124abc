"""The wheel cache every environment build under one root shares: ``<root>/wheels/``.

A build fills it with ``pip wheel`` (which skips a wheel whose file is already there and
builds a wheel of any source distribution), then installs from it alone, without the
index. So a second environment with xgboost takes xgboost's wheel from here instead of
downloading it again, and an environment whose packages are all here builds offline.

Writers (a fill, wheels fetched from the artifact store) hold an exclusive ``flock`` on
``<root>/.wheels.lock``; installs hold it shared, so no install reads a wheel half written.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.storage.artifacts import sha256_file
from modelyard.storage.names import safe_relative_name

FOLDER = "wheels"


class Wheelhouse:
    """``<root>/wheels``: one flat folder of wheel files, shared by every build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / FOLDER

    @contextmanager
    def writing(self) -> Iterator[Path]:
        """Hold the wheelhouse for writing (no install reads it meanwhile); yields its path."""
        with self._locked(fcntl.LOCK_EX):
            yield self.path

    @contextmanager
    def reading(self) -> Iterator[Path]:
        """Hold the wheelhouse for an install (no writer changes it meanwhile)."""
        with self._locked(fcntl.LOCK_SH):
            yield self.path

    def holds(self, file: str, sha256: str) -> bool:
        """True if ``file`` is here with exactly that content."""
        path = self.path / safe_relative_name(file)
        return path.is_file() and sha256_file(path).sha256 == sha256

    def put(self, file: str, data: bytes) -> Path:
        """Write ``file`` atomically (under :meth:`writing`); returns its path."""
        name = safe_relative_name(file)
        if "/" in name:
            raise ValueError(f"a wheel file name has no folder: {file!r}")
        target = self.path / name
        tmp = self.path / f".{name}.{uuid.uuid4().hex}.part"
        with tmp.open("xb") as out:
            out.write(data)
        os.replace(tmp, target)
        return target

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{FOLDER}.lock", "a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
