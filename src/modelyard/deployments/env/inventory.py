"""What the environment cache holds: one :class:`CachedEnvironment` per folder, read from disk.

Only direct children of the cache root named by a digest, that are real folders (not
links) and look like a virtualenv (``pyvenv.cfg`` or the ``.complete`` marker) count;
anything else in the root is never listed, so it is never pruned.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelyard.deployments.env.markers import COMPLETE, DIGEST, LAST_USED, is_building


class EnvironmentStatus(StrEnum):
    """``ready`` to use, ``building`` now (its lock is held), ``incomplete`` (a build died)."""

    READY = "ready"
    BUILDING = "building"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class CachedEnvironment:
    """One environment folder: its digest, size on disk, interpreter and timestamps (UTC)."""

    digest: str
    path: Path
    status: EnvironmentStatus
    size_bytes: int
    python: str | None
    created_at: datetime
    last_used_at: datetime
    requirements: tuple[str, ...]

    @property
    def short(self) -> str:
        """The first 12 hex digits, as build logs show it."""
        return self.digest[:12]


def scan(root: Path) -> list[CachedEnvironment]:
    """Every environment under ``root``, least recently used first; [] if there is no root."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    found = [read(root, e.name) for e in entries if DIGEST.fullmatch(e.name)]
    return sorted((f for f in found if f is not None), key=lambda f: (f.last_used_at, f.digest))


def read(root: Path, digest: str) -> CachedEnvironment | None:
    """The environment ``<root>/<digest>``, or None if that is not an environment folder."""
    path = root / digest
    if not DIGEST.fullmatch(digest) or not _is_real_dir(path):
        return None
    building = is_building(root, digest)
    marker = _marker(path)
    if marker is None and not building and not _is_file(path / "pyvenv.cfg"):
        return None
    created = _mtime(path / COMPLETE) or _mtime(path) or 0.0
    used = max(_mtime(path / LAST_USED) or 0.0, created)
    status = (
        EnvironmentStatus.READY
        if marker is not None
        else EnvironmentStatus.BUILDING
        if building
        else EnvironmentStatus.INCOMPLETE
    )
    return CachedEnvironment(
        digest=digest,
        path=path,
        status=status,
        size_bytes=disk_usage(path),
        python=str(marker["python"]) if marker and marker.get("python") else _pyvenv(path),
        created_at=datetime.fromtimestamp(created, UTC),
        last_used_at=datetime.fromtimestamp(used, UTC),
        requirements=_requirements(path, marker),
    )


def disk_usage(path: Path) -> int:
    """Bytes allocated to the files under ``path``, each inode counted once, links not
    followed (as ``du -s`` counts them)."""
    total, seen = 0, set()
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += getattr(info, "st_blocks", 0) * 512 or info.st_size
    return total


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _mtime(path: Path) -> float | None:
    try:
        return path.stat(follow_symlinks=False).st_mtime
    except OSError:
        return None


def _marker(path: Path) -> dict[str, Any] | None:
    if not _is_file(path / COMPLETE):
        return None
    try:
        data = json.loads((path / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pyvenv(path: Path) -> str | None:
    try:
        text = (path / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def _requirements(path: Path, marker: dict[str, Any] | None) -> tuple[str, ...]:
    recorded = (marker or {}).get("requirements")
    if isinstance(recorded, dict) and isinstance(recorded.get("lines"), list):
        return tuple(str(line) for line in recorded["lines"])
    try:
        text = (path / "requirements.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line for line in text.splitlines() if line.strip())
