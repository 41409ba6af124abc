"""Alias moves followed by polling one row, where the database pushes nothing.

SQLite and MariaDB have no ``LISTEN``: there, every alias move adds one to the single
row of ``alias_generation`` in its own transaction (:func:`bump`), a primary-key read
that replicas repeat every few milliseconds at no cost to the database. A replica that
sees the number change reads where the aliases point now, serves that, and writes the
generation it serves into its row of ``replicas`` (:func:`acknowledge`). The moving call
waits (:func:`wait`, bounded) until every live replica serves its generation, so that
when ``promote`` returns the replicas answer with the new version, as on PostgreSQL.

A replica is live while it beats (:func:`beat`) at least every ``LIVE_S`` seconds; one
that stops gracefully leaves (:func:`leave`), one that dies is waited for ``LIVE_S``
at most and its row is deleted by the next replica that beats ``FORGET_S`` later.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.config.secret import redact
from modelyard.errors import StorageError
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

ROW = 1  # the id of alias_generation's one row
LIVE_S = 3.0  # a replica that has not beaten for this long is not waited for
FORGET_S = 3600.0  # and its row is deleted after this long
_POLL_ACKS_S = 0.005  # how often a waiting move reads the replicas' rows

g, r = schema.alias_generation, schema.replicas


@dataclass(frozen=True)
class Generation:
    """How many moves were committed (``number``), and when the last one was written."""

    number: int
    moved_at: datetime | None


@dataclass(frozen=True)
class Pointer:
    """``model@alias`` points at ``version`` now."""

    model: str
    alias: str
    version: int


def bump(conn: Connection) -> int:
    """Count one more alias move in ``conn``'s transaction; returns the new generation."""
    now = utcnow()
    done = conn.execute(
        sa.update(g).where(g.c.id == ROW).values(generation=g.c.generation + 1, moved_at=now)
    )
    if done.rowcount == 0:  # a new registry: the first move creates the row
        conn.execute(sa.insert(g).values(id=ROW, generation=1, moved_at=now))
    return int(conn.execute(sa.select(g.c.generation).where(g.c.id == ROW)).scalar_one())


def generation(db: Database) -> Generation:
    """The generation now (0 before the first move)."""

    def read(conn: Connection) -> Generation:
        row = conn.execute(sa.select(g.c.generation, g.c.moved_at).where(g.c.id == ROW)).first()
        return Generation(int(row.generation), row.moved_at) if row else Generation(0, None)

    return db.read(read)


class GenerationWatch:
    """The generation number read over one connection of its own, kept open: one
    statement a poll. Through the pool, each read cost a checkout, a ping, a transaction
    and the query (some 170 microseconds and four hand-offs of the GIL, 50 times a second,
    beside the requests a replica answers). Not thread-safe: the polling thread owns it,
    and closes it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._raw: Any = None
        mark = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
        quote = db.engine.dialect.identifier_preparer.quote
        self._sql = f"SELECT generation FROM {quote(g.name)} WHERE id = {mark}"  # noqa: S608

    def number(self) -> int:
        """The generation now (0 before the first move); ``StorageError`` if the database
        does not answer (the connection is dropped, and made again on the next call)."""
        try:
            if self._raw is None:
                self._raw = self._db.engine.raw_connection()
                _autocommit(self._raw.dbapi_connection, self._db.dialect)
            cursor = self._raw.cursor()
            try:
                cursor.execute(self._sql, (ROW,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception as exc:  # the driver's own errors: the database is away
            self.close()
            detail = redact(
                str(exc).strip().splitlines()[0] if str(exc).strip() else "", self._db.url
            )
            raise StorageError(
                f"registry database {self._db.url} failed: {detail or type(exc).__name__}",
                url=str(self._db.url),
            ) from None
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Drop the connection (not back to the pool: it is in autocommit)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to give back
                raw.invalidate()


def _autocommit(connection: Any, dialect: str) -> None:
    """Each statement its own transaction, so that every poll sees the latest commit
    (SQLite's connections are in autocommit already, see ``storage.engine``)."""
    if dialect in ("mysql", "mariadb"):  # a mariadb+pymysql:// URL says mariadb
        connection.autocommit(True)
    elif dialect == "postgresql":
        connection.autocommit = True


def pointers(db: Database) -> list[Pointer]:
    """Where every alias of every model points now."""
    a, m = schema.aliases, schema.models
    query = sa.select(m.c.name, a.c.alias, a.c.version).join(m, m.c.id == a.c.model_id)
    return db.read(
        lambda conn: [Pointer(row.name, row.alias, int(row.version)) for row in conn.execute(query)]
    )


def join(db: Database) -> str:
    """Add this process as a replica serving nothing yet; returns its id."""
    replica = os.urandom(16).hex()
    now = utcnow()
    values = {"id": replica, "host": socket.gethostname()[:255], "pid": os.getpid()}
    db.write(
        lambda conn: conn.execute(
            sa.insert(r).values(**values, generation=0, started_at=now, seen_at=now)
        )
    )
    return replica


def beat(db: Database, replica: str, served: int) -> None:
    """Say ``replica`` is alive (back in the table with ``served`` if its row was deleted),
    and delete the rows of replicas gone for ``FORGET_S``."""
    now = utcnow()

    def write(conn: Connection) -> None:
        done = conn.execute(sa.update(r).where(r.c.id == replica).values(seen_at=now))
        if done.rowcount == 0:
            host = socket.gethostname()[:255]
            values = {"id": replica, "host": host, "pid": os.getpid(), "generation": served}
            conn.execute(sa.insert(r).values(**values, started_at=now, seen_at=now))
        conn.execute(sa.delete(r).where(r.c.seen_at < now - timedelta(seconds=FORGET_S)))

    db.write(write, retry_conflicts=True)


def acknowledge(db: Database, replica: str, served: int) -> None:
    """``replica`` serves every move up to generation ``served`` (never goes back)."""
    db.write(
        lambda conn: conn.execute(
            sa.update(r).where(r.c.id == replica, r.c.generation < served).values(generation=served)
        )
    )


def leave(db: Database, replica: str) -> None:
    """Remove ``replica``: moves stop waiting for it."""
    db.write(lambda conn: conn.execute(sa.delete(r).where(r.c.id == replica)))


def lagging(db: Database, number: int) -> int:
    """How many live replicas do not serve generation ``number`` yet."""
    since = utcnow() - timedelta(seconds=LIVE_S)
    query = sa.select(sa.func.count()).where(r.c.generation < number, r.c.seen_at >= since)
    return db.read(lambda conn: int(conn.execute(query).scalar_one()))


def live(db: Database) -> int:
    """How many replicas beat within the last ``LIVE_S`` seconds."""
    since = utcnow() - timedelta(seconds=LIVE_S)
    query = sa.select(sa.func.count()).where(r.c.seen_at >= since)
    return db.read(lambda conn: int(conn.execute(query).scalar_one()))


def wait(db: Database, number: int, wait_s: float) -> bool:
    """Wait until every live replica serves generation ``number``, ``wait_s`` at most;
    True if they all do (a stuck or dead replica only delays the call)."""
    deadline = time.monotonic() + wait_s
    while lagging(db, number):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_ACKS_S)
    return True
