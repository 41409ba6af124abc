"""Published entry-script environments as rows: one lock per (requirements digest, platform).

A replica that built an environment records what it installed (``pins``: ``name==version``
of every distribution) and the wheels it installed them from (file name, sha256, size;
the bytes are blobs of the artifact store). Another replica with the same digest and
platform installs exactly those wheels, without the network; one on another platform
installs the same pins from its package index. The first record of a key stays: a
concurrent publisher of the same key keeps the one already there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

t = schema.environment_locks


@dataclass(frozen=True)
class LockedWheel:
    """A wheel a published environment was installed from: its file name and blob."""

    file: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the row."""
        return {"file": self.file, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LockedWheel:
        """Read :meth:`to_dict`'s form back."""
        return cls(str(data["file"]), str(data["sha256"]), int(data["size"]))


@dataclass(frozen=True)
class EnvironmentLock:
    """One published environment: what was asked, what was installed, from which wheels."""

    digest: str
    platform: str
    python: str
    requirements: tuple[str, ...]
    pins: tuple[str, ...]
    wheels: tuple[LockedWheel, ...]
    published_by: str
    published_at: datetime

    @property
    def wheel_bytes(self) -> int:
        """The size of its wheels in the artifact store."""
        return sum(wheel.size for wheel in self.wheels)


def _lock(row: RowMapping) -> EnvironmentLock:
    return EnvironmentLock(
        digest=row["digest"],
        platform=row["platform"],
        python=row["python"],
        requirements=tuple(str(line) for line in row["requirements"] or ()),
        pins=tuple(str(pin) for pin in row["pins"] or ()),
        wheels=tuple(LockedWheel.from_dict(w) for w in row["wheels"] or ()),
        published_by=row["published_by"],
        published_at=row["published_at"],
    )


class EnvironmentLockStore:
    """Read and record published environment locks; each call is one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find(self, digest: str, platform: str) -> EnvironmentLock | None:
        """The lock of ``digest`` for ``platform``; else any platform's (pins only are of
        use there), the oldest first; None if ``digest`` was never published."""

        def read(conn: Connection) -> list[EnvironmentLock]:
            rows = conn.execute(
                sa.select(t).where(t.c.digest == digest).order_by(t.c.published_at)
            ).mappings()
            return [_lock(row) for row in rows]

        found = self._db.read(read)
        same = [lock for lock in found if lock.platform == platform]
        return next(iter(same or found), None)

    def publish(
        self,
        digest: str,
        platform: str,
        *,
        python: str,
        requirements: Sequence[str],
        pins: Sequence[str],
        wheels: Sequence[LockedWheel],
        by: str,
    ) -> EnvironmentLock:
        """Record a lock unless one exists for (digest, platform); returns the one kept."""

        def insert(conn: Connection) -> None:
            key = sa.and_(t.c.digest == digest, t.c.platform == platform)
            if conn.execute(sa.select(t.c.digest).where(key)).first() is not None:
                return
            conn.execute(
                sa.insert(t).values(
                    digest=digest,
                    platform=platform,
                    python=python,
                    requirements=list(requirements),
                    pins=list(pins),
                    wheels=[wheel.to_dict() for wheel in wheels],
                    published_by=by[:128],
                    published_at=utcnow(),
                )
            )

        self._db.write(insert, retry_conflicts=True)
        kept = self.find(digest, platform)
        assert kept is not None
        return kept

    def published(self) -> list[EnvironmentLock]:
        """Every published lock, oldest first."""

        def read(conn: Connection) -> list[EnvironmentLock]:
            rows = conn.execute(sa.select(t).order_by(t.c.published_at, t.c.digest)).mappings()
            return [_lock(row) for row in rows]

        return self._db.read(read)
