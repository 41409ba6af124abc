"""What replicas following ``model@alias`` and the calls moving it say to each other.

On PostgreSQL a move's transaction sends ``pg_notify`` (delivered at commit, never for
a rolled-back or retried attempt) and counts the replicas listening. Each replica
(one :class:`Listener` per serving process) answers every move with an
acknowledgement once it serves the new version, or once it has given up on it (the
version failed to load: the old one keeps serving). The moving call waits for those
answers (:class:`Acks`, ``wait_s`` at most), so when ``promote`` returns, the replicas
already answer with the new version. SQLite and MariaDB have no such channel: there
replicas poll the generation row that every move bumps (``storage.replicas``), and the
moving call waits for the acknowledgements they write; on PostgreSQL replicas also poll
the endpoints once a second, for moves missed while a listener reconnects.
"""

from __future__ import annotations

import contextlib
import json
import select
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.config.secret import redact
from modelyard.errors import StorageError
from modelyard.storage import replicas, schema
from modelyard.storage.engine import Database
from modelyard.types import VersionStatus

MOVES = "modelyard_alias_moved"
ACKS = "modelyard_alias_served"
REPLICA = "modelyard-replica"  # the application_name of a listening replica's connection

_PUBLISH = sa.text(
    "SELECT pg_notify(:channel, json_build_object("
    "'model', name, 'alias', CAST(:alias AS TEXT), 'version', CAST(:version AS INTEGER), "
    "'event', CAST(:event AS BIGINT), 'sent_at', extract(epoch FROM clock_timestamp()))::text) "
    "FROM models WHERE id = :model_id"
)
_REPLICAS = sa.text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name = :name AND datname = current_database()"
)


@dataclass(frozen=True)
class AliasMove:
    """``model@alias`` now points at ``version`` (committed by ``event``); ``sent_at`` is
    the database server's clock (Unix time) when the move was written."""

    model: str
    alias: str
    version: int
    event: int | None = None
    sent_at: float | None = None


@dataclass(frozen=True)
class Published:
    """A move as announced: its ``event``, how many listening replicas will acknowledge
    it (PostgreSQL), and the ``generation`` polling replicas will acknowledge."""

    event: int
    listeners: int
    generation: int


def publish(conn: Connection, model_id: int, alias: str, version: int, event: int) -> Published:
    """Announce a move, seen by the replicas when ``conn``'s transaction commits: bump the
    generation, and on PostgreSQL send the notice and count the listening replicas."""
    generation = replicas.bump(conn)
    if conn.dialect.name != "postgresql":
        return Published(event, 0, generation)
    values = {"alias": alias, "version": version, "event": event, "model_id": model_id}
    conn.execute(_PUBLISH, {"channel": MOVES, **values})
    listeners = int(conn.execute(_REPLICAS, {"name": REPLICA}).scalar_one())
    return Published(event, listeners, generation)


class _Connection:
    """One autocommit psycopg 3 connection of its own, read without blocking."""

    def __init__(self, db: Database, channel: str, *, name: str | None = None) -> None:
        try:
            raw = db.engine.raw_connection()
        except Exception as exc:  # the driver's own error: raw_connection() does not wrap it
            raise _cannot_listen(db, getattr(exc, "orig", None) or exc) from None
        driver: Any = raw.driver_connection
        if not hasattr(driver, "pgconn"):  # psycopg2 and others: polling only
            raw.close()
            raise _NoNotices
        raw.detach()  # never handed back to the pool
        try:
            driver.rollback()  # the pool's liveness check may have opened a transaction
            driver.autocommit = True
            driver.execute(f"LISTEN {channel}")
            if name is not None:  # once listening: whoever counts it will be heard
                driver.execute("SELECT set_config('application_name', %s, false)", (name,))
        except Exception as exc:  # any driver error: the caller polls instead
            raw.close()
            raise _cannot_listen(db, exc) from None
        self._raw = raw
        self.pgconn: Any = driver.pgconn
        self._fd = int(self.pgconn.socket)

    def fileno(self) -> int:
        return self._fd

    def payloads(self) -> list[bytes]:
        """Notification payloads received so far, oldest first; never blocks."""
        try:
            self.pgconn.flush()  # what a previous send left in the buffer
            self.pgconn.consume_input()
            while not self.pgconn.is_busy() and self.pgconn.get_result() is not None:
                pass  # the results of our own acknowledgements
        except Exception as exc:  # the server went away or the socket broke
            raise StorageError(f"the promotion listener lost its connection: {exc}") from None
        if self.pgconn.status != 0:  # CONNECTION_OK; e.g. terminated by the server
            raise StorageError("the promotion listener lost its connection")
        found: list[bytes] = []
        while (notice := self.pgconn.notifies()) is not None:
            found.append(bytes(notice.extra))
        return found

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()


class _NoNotices(Exception):
    pass


class Listener:
    """A replica's ``LISTEN`` connection. Not thread-safe: one thread (the server's event
    loop) reads it and sends its acknowledgements. ``drain`` raises ``StorageError``
    once the connection is lost; the caller then closes it and opens a new one."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._unsent: list[int] = []

    @classmethod
    def open(cls, db: Database) -> Listener | None:
        """Listen on ``db``; None where the database or its driver has no notices."""
        if db.dialect != "postgresql":
            return None
        try:
            return cls(_Connection(db, MOVES, name=REPLICA))
        except _NoNotices:
            return None

    def fileno(self) -> int:
        """The socket to watch for readability."""
        return self._conn.fileno()

    def drain(self) -> list[AliasMove]:
        """The moves received so far, in commit order; never blocks."""
        moves = [m for m in map(_parse, self._conn.payloads()) if m is not None]
        self._send()
        return moves

    def ack(self, events: Iterable[int]) -> None:
        """Tell the moving calls that this replica is done with ``events`` (never blocks)."""
        self._unsent += events
        self._send()

    def _send(self) -> None:
        pgconn = self._conn.pgconn
        if not self._unsent or pgconn.is_busy():
            return  # sent with the next drain, once the previous answers came back
        calls = ", ".join(f"pg_notify('{ACKS}', '{int(e)}')" for e in self._unsent)
        self._unsent = []
        try:
            pgconn.send_query(f"SELECT {calls}".encode())
            pgconn.flush()
        except Exception as exc:
            raise StorageError(f"the promotion listener lost its connection: {exc}") from None

    def close(self) -> None:
        """Close the connection (errors ignored: it may be gone already)."""
        self._conn.close()


class Acks:
    """The moving call's side: listen for acknowledgements before the move commits (on
    PostgreSQL, if a replica listens), then wait for as many as ``publish`` counted and
    for the polling replicas to serve its generation."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: _Connection | None = None
        if db.dialect != "postgresql":
            return
        with contextlib.suppress(StorageError, _NoNotices, sa.exc.DBAPIError):
            if db.read(lambda c: int(c.execute(_REPLICAS, {"name": REPLICA}).scalar_one())):
                self._conn = _Connection(db, ACKS)

    def wait(self, published: Published, wait_s: float) -> int:
        """Wait until every replica serves ``published``, ``wait_s`` at most (a replica that
        is stuck or gone only delays the call); returns how many listeners acknowledged."""
        deadline = time.monotonic() + wait_s
        heard = self._listeners(published, deadline)
        with contextlib.suppress(StorageError):
            replicas.wait(self._db, published.generation, max(0.0, deadline - time.monotonic()))
        return heard

    def _listeners(self, published: Published, deadline: float) -> int:
        conn, heard, event = self._conn, 0, published.event
        while conn is not None and heard < published.listeners:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([conn], [], [], left)
            if not readable:
                continue
            try:
                heard += sum(1 for p in conn.payloads() if p == str(event).encode())
            except StorageError:
                break
        return heard

    def __enter__(self) -> Acks:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            self._conn.close()


def _cannot_listen(db: Database, exc: BaseException | None) -> StorageError:
    return StorageError(f"cannot listen for promotions on {db.url}: {redact(str(exc), db.url)}")


def _parse(extra: bytes) -> AliasMove | None:
    try:
        data = json.loads(extra)
        event, sent_at = data.get("event"), data.get("sent_at")
        return AliasMove(
            str(data["model"]),
            str(data["alias"]),
            int(data["version"]),
            int(event) if event is not None else None,
            float(sent_at) if sent_at is not None else None,
        )
    except (ValueError, KeyError, TypeError):  # not ours: ignore it
        return None


def upcoming(db: Database, name: str, after: int) -> list[int]:
    """The numbers of ``name``'s versions above ``after`` that may be promoted, in order."""
    m, v = schema.models, schema.model_versions
    query = (
        sa.select(v.c.version)
        .join(m, m.c.id == v.c.model_id)
        .where(
            m.c.name == name,
            v.c.version > after,
            v.c.status != VersionStatus.ARCHIVED.value,
        )
        .order_by(v.c.version)
    )
    return db.read(lambda conn: [int(n) for n in conn.execute(query).scalars()])


def serving_replicas(db: Database) -> int:
    """How many replicas serve this registry now: those that beat within
    ``replicas.LIVE_S`` (polling) plus, on PostgreSQL, those listening for moves."""
    polling = replicas.live(db)
    if db.dialect != "postgresql":
        return polling
    return polling + db.read(lambda c: int(c.execute(_REPLICAS, {"name": REPLICA}).scalar_one()))
