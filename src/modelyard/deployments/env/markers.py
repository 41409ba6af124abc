"""The files that say what state a cached environment is in, shared by builder and pruner.

``<root>/<digest>/.complete`` (JSON, written last) makes an environment usable;
``<root>/<digest>/.last-used`` is touched each time a deployment takes it, so its mtime is
the last use as seen by every process; ``<root>/.<digest>.lock`` is held with ``flock``
by whoever builds it, or removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

COMPLETE = ".complete"
LAST_USED = ".last-used"
DIGEST = re.compile(r"[0-9a-f]{64}")
"""An environment folder's name: the sha256 of :meth:`Requirements.digest_for`'s payload."""


def lock_path(root: Path, digest: str) -> Path:
    """The file a builder of ``digest`` holds an exclusive ``flock`` on."""
    return root / f".{digest}.lock"


def mark_used(path: Path) -> None:
    """Record that the environment at ``path`` was used now (best effort: a read-only
    cache still serves)."""
    with contextlib.suppress(OSError):
        (path / LAST_USED).touch()


@contextlib.contextmanager
def try_lock(root: Path, digest: str) -> Iterator[bool]:
    """Hold ``digest``'s build lock if nobody does: yields True while held, False (holding
    nothing) if a build or another removal has it. A missing lock file means no build."""
    fd = os.open(lock_path(root, digest), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_building(root: Path, digest: str) -> bool:
    """True while a builder (or a waiter, or a pruner) holds ``digest``'s lock."""
    try:
        fd = os.open(lock_path(root, digest), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
