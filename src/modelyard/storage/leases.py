"""Named leases for leader election: whoever holds an unexpired lease leads (one
scheduler among many processes, say). A holder renews before its lease expires; a
crashed holder's lease simply runs out. Pure persistence: ``jobs/`` holds the behaviour."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

le = schema.leases


class LeaseStore:
    """Named leases: whoever holds an unexpired lease leads (one scheduler, say)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew ``name`` for ``ttl``; False while someone else holds it."""

        def take(conn: Connection) -> bool:
            now = utcnow()
            row = conn.execute(
                sa.select(le.c.holder, le.c.expires_at).where(le.c.name == name).with_for_update()
            ).first()
            if row is None:
                conn.execute(sa.insert(le).values(name=name, holder=holder, expires_at=now + ttl))
                return True
            if row.holder != holder and row.expires_at > now:
                return False
            conn.execute(
                sa.update(le).where(le.c.name == name).values(holder=holder, expires_at=now + ttl)
            )
            return True

        return self._db.write(take, retry_conflicts=True)

    def release(self, name: str, holder: str) -> None:
        """Give the lease up now (a clean shutdown)."""
        self._db.write(
            lambda conn: conn.execute(sa.delete(le).where(le.c.name == name, le.c.holder == holder))
        )

    def holder(self, name: str) -> str | None:
        """Who holds ``name`` now, if anyone."""

        def read(conn: Connection) -> str | None:
            row = conn.execute(sa.select(le).where(le.c.name == name)).mappings().first()
            if row is None or row["expires_at"] <= utcnow():
                return None
            return str(row["holder"])

        return self._db.read(read)
