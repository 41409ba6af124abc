"""Studio sessions: a random session id (stored as sha256) with its user, its CSRF token
and its expiry. Logging out deletes the row, so a copied cookie stops working at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.endpoints import hash_key, new_key
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

s = schema.sessions


@dataclass(frozen=True)
class Session:
    """A live Studio session."""

    user: str
    csrf: str
    expires_at: datetime


class SessionStore:
    """Open, find and close sessions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def open(self, user: str, ttl: timedelta) -> tuple[str, Session]:
        """A new session for ``user`` lasting ``ttl``: its id (for the cookie) and record."""
        session_id, now = new_key(), utcnow()
        session = Session(user, secrets.token_urlsafe(32), now + ttl)

        def write(conn: Connection) -> None:
            conn.execute(sa.delete(s).where(s.c.expires_at < now))  # sweep the expired ones
            conn.execute(
                sa.insert(s).values(
                    id_hash=hash_key(session_id),
                    user_name=user,
                    csrf=session.csrf,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )

        self._db.write(write)
        return session_id, session

    def find(self, session_id: str) -> Session | None:
        """The unexpired session of this id, or None."""
        query = sa.select(s).where(s.c.id_hash == hash_key(session_id))
        row = self._db.read(lambda conn: conn.execute(query).mappings().first())
        if row is None or row["expires_at"] <= utcnow():
            return None
        return Session(row["user_name"], row["csrf"], row["expires_at"])

    def close(self, session_id: str) -> None:
        """End the session (nothing happens if it had ended)."""
        query = sa.delete(s).where(s.c.id_hash == hash_key(session_id))
        self._db.write(lambda conn: conn.execute(query))

    def close_all(self, user: str) -> None:
        """End every session of ``user`` (their role changed, or they were disabled)."""
        self._db.write(lambda conn: conn.execute(sa.delete(s).where(s.c.user_name == user)))
