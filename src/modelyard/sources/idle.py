"""Driver connections kept open between reads, as SQLAlchemy's pool keeps its own.

Opening an ADBC connection to PostgreSQL costs a login and a read of the type catalog
(some 30 ms on a local server, more over a network): 6 % of reading a million rows of ten
columns. A source that reads again reuses the connection its last read left.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import suppress
from typing import Any


class IdleConnections:
    """Up to ``limit`` idle DB-API connections, each used by one caller at a time.

    ``take()`` gives an idle connection that still answers a ``SELECT 1`` (one closed by
    the server meanwhile is dropped), or None; ``give()`` keeps a connection for the next
    caller, or closes it when ``limit`` are kept already; ``close()`` closes the idle
    ones, as does the garbage collector for a source nobody closed. Thread-safe; a copy
    made by pickling (for another process) starts with none.
    """

    def __init__(self, limit: int = 1) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._limit = limit
        self._finalizer = weakref.finalize(self, _close_all, self._idle)

    def __reduce__(self) -> tuple[type[IdleConnections], tuple[int]]:
        return IdleConnections, (self._limit,)

    def take(self) -> Any | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if _answers(conn):
                return conn
            _close(conn)

    def give(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < self._limit:
                self._idle.append(conn)
                return
        _close(conn)

    def close(self) -> None:
        with self._lock:
            _close_all(self._idle)


def _answers(conn: Any) -> bool:
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
    except Exception:  # each driver raises its own types; any failure means "not usable"
        return False
    return True


def _close(conn: Any) -> None:
    with suppress(Exception):  # a connection the server dropped may fail to close cleanly
        conn.close()


def _close_all(idle: list[Any]) -> None:
    while idle:
        _close(idle.pop())
