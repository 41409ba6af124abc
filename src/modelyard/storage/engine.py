"""The registry database: one engine, short transactions, transient errors retried.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with
"database is locked" when a read transaction tries to upgrade. PostgreSQL and
MariaDB deadlocks and serialisation failures are retried the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from modelyard.config.secret import SecretURL, redact
from modelyard.errors import StorageError

T = TypeVar("T")

_WRITE = "modelyard_write"
# Driver error fragments that mean "try the same transaction again".
_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "deadlock",
    "could not serialize access",
    "lock wait timeout",
    "try restarting transaction",
)
_MAX_ATTEMPTS = 12


class Database:
    """An engine over the registry database with ``read`` and ``write`` helpers."""

    def __init__(self, url: SecretURL, *, sqlite_busy_timeout_s: float = 60.0) -> None:
        self.url = url
        self._busy_ms = int(sqlite_busy_timeout_s * 1000)
        try:
            self.engine: Engine = sa.create_engine(
                url.reveal(), pool_pre_ping=True, future=True, **_engine_options(url.reveal())
            )
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StorageError(
                f"cannot use database URL {url}: {redact(str(exc), url)}", url=str(url)
            ) from None
        if self.dialect == "sqlite":
            self._configure_sqlite()

    @property
    def in_memory(self) -> bool:
        """True for an in-memory SQLite database (one no other process can open)."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB reports ``mysql``)."""
        return self.engine.dialect.name

    def _configure_sqlite(self) -> None:
        busy_ms = self._busy_ms

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's begin event decide how each transaction starts.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
            conn.exec_driver_sql(mode)

    @contextmanager
    def connect(self, *, write: bool) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success."""
        with self._translated(), self.engine.connect() as conn:
            if write:
                conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a read transaction, retrying transient errors."""
        return self._run(fn, write=False, retry_conflicts=False)

    def write(self, fn: Callable[[Connection], T], *, retry_conflicts: bool = False) -> T:
        """Run ``fn`` in one write transaction, retrying it whole on transient errors.

        ``fn`` must be safe to run again: it sees a fresh transaction each time.
        With ``retry_conflicts``, a unique-key violation (a concurrent insert of
        the same row) is retried too: ``fn`` will then see that row.
        """
        return self._run(fn, write=True, retry_conflicts=retry_conflicts)

    def _run(self, fn: Callable[[Connection], T], *, write: bool, retry_conflicts: bool) -> T:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn.execution_options(**{_WRITE: True})
                    elif self.dialect != "sqlite":
                        # A read of several statements sees one snapshot, as SQLite gives:
                        # under the servers' READ COMMITTED each statement would see the
                        # writes committed meanwhile (an alias and its version disagreeing).
                        conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        return fn(conn)
            except DBAPIError as exc:
                retry = _is_transient(exc) or (retry_conflicts and isinstance(exc, IntegrityError))
                if attempt < _MAX_ATTEMPTS and retry:
                    time.sleep(min(0.5, 0.01 * 2**attempt) * random.random())  # noqa: S311
                    continue
                raise self._storage_error(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise self._storage_error(exc) from None

    def _storage_error(self, exc: DBAPIError) -> StorageError:
        detail = str(exc.orig) if exc.orig is not None else str(exc)
        detail = redact(detail.strip().splitlines()[0] if detail.strip() else detail, self.url)
        return StorageError(
            f"registry database {self.url} failed: {detail}",
            url=str(self.url),
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 60}}
    if url.startswith("mysql") or url.startswith("mariadb"):
        return {"pool_recycle": 3600, "isolation_level": "READ COMMITTED"}
    return {}


def _is_transient(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    code = getattr(exc.orig, "args", (None,))[0] if exc.orig is not None else None
    # MySQL/MariaDB: 1205 lock wait timeout, 1213 deadlock.
    return any(fragment in text for fragment in _TRANSIENT) or code in (1205, 1213)
