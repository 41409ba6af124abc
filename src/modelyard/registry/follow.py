"""What a replica following ``model@alias`` reads: alias-move notices and preload candidates.

On PostgreSQL every alias move sends ``pg_notify`` from inside its own transaction, so
the notice exists exactly when the move is committed (never for a rolled-back or
retried attempt). A :class:`Listener` holds one ``LISTEN`` connection and hands back
the moves it has received, without blocking: the caller watches its ``fileno()``.
SQLite and MariaDB have no such channel; replicas poll there, and poll on PostgreSQL
too, for notices lost while a listener reconnects.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.config import redact
from modelyard.errors import StorageError
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.types import VersionStatus

CHANNEL = "modelyard_alias_moved"

_PUBLISH = sa.text(
    "SELECT pg_notify(:channel, json_build_object("
    "'model', name, 'alias', CAST(:alias AS TEXT), 'version', CAST(:version AS INTEGER), "
    "'sent_at', extract(epoch FROM clock_timestamp()))::text) "
    "FROM models WHERE id = :model_id"
)


@dataclass(frozen=True)
class AliasMove:
    """``model@alias`` now points at ``version`` (committed); ``sent_at`` is the database
    server's clock (Unix time) when the move was written, just before its commit."""

    model: str
    alias: str
    version: int
    sent_at: float | None = None


def publish(conn: Connection, model_id: int, alias: str, version: int) -> None:
    """Announce a move when the transaction of ``conn`` commits (PostgreSQL; else nothing)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        _PUBLISH, {"channel": CHANNEL, "alias": alias, "version": version, "model_id": model_id}
    )


class Listener:
    """One autocommit ``LISTEN`` connection (psycopg 3), read without blocking.

    Not thread-safe: one thread reads it. ``drain`` raises ``StorageError`` once the
    connection is lost; the caller then closes it and opens a new one.
    """

    def __init__(self, raw: Any, driver: Any) -> None:
        self._raw = raw
        self._driver = driver
        self._fd = int(driver.pgconn.socket)

    @classmethod
    def open(cls, db: Database) -> Listener | None:
        """Listen on ``db``; None where the database or its driver has no notices."""
        if db.dialect != "postgresql":
            return None
        try:
            raw = db.engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise _cannot_listen(db, exc.orig) from None
        driver: Any = raw.driver_connection
        if not hasattr(driver, "pgconn"):  # psycopg2 and others: polling only
            raw.close()
            return None
        raw.detach()  # its own connection for good, never handed back to the pool
        try:
            driver.rollback()  # the pool's liveness check may have opened a transaction
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # any driver error: this replica polls instead
            raw.close()
            raise _cannot_listen(db, exc) from None
        return cls(raw, driver)

    def fileno(self) -> int:
        """The socket to watch for readability."""
        return self._fd

    def drain(self) -> list[AliasMove]:
        """The moves received so far, oldest first (commit order); never blocks."""
        pgconn = self._driver.pgconn
        try:
            pgconn.consume_input()
        except Exception as exc:  # the server went away or the socket broke
            raise StorageError(f"the promotion listener lost its connection: {exc}") from None
        moves: list[AliasMove] = []
        while (notice := pgconn.notifies()) is not None:
            move = _parse(notice.extra)
            if move is not None:
                moves.append(move)
        return moves

    def close(self) -> None:
        """Close the connection (errors ignored: it may be gone already)."""
        with contextlib.suppress(Exception):
            self._raw.close()


def _cannot_listen(db: Database, exc: BaseException | None) -> StorageError:
    return StorageError(f"cannot listen for promotions on {db.url}: {redact(str(exc), db.url)}")


def _parse(extra: bytes) -> AliasMove | None:
    try:
        data = json.loads(extra)
        sent_at = data.get("sent_at")
        return AliasMove(
            str(data["model"]),
            str(data["alias"]),
            int(data["version"]),
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
