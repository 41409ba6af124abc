"""Promotions pushed to a replica: a PostgreSQL ``LISTEN`` socket in the server's event loop,
or, where the database pushes nothing, polled (``serving.polling``).

The listener's socket is one more file descriptor of the loop that reads the requests:
a notice is handled between two requests, by swapping to the preloaded version (one
assignment, no I/O), and acknowledged at once; the promote call returns on that
acknowledgement (``registry.follow``), so a request sent after it returned meets the
new version. A version that was not preloaded is loaded by the follow thread, and
acknowledged once it serves, or once it failed (the old version keeps serving).

Without a running event loop, with a driver that has no notices, or on SQLite and
MariaDB, nothing is pushed: the replica polls the alias generation instead, as strictly
(the promote call waits for its acknowledgement too). A lost push connection is reopened
from the follow thread, every ``retry_s`` at most; the follow thread's polls of the
endpoints cover the moves missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from modelyard.errors import StorageError
from modelyard.serving.polling import Polling
from modelyard.storage.engine import Database
from modelyard.storage.notifications import AliasMove, Listener


class Notices:
    """Calls ``on_move`` for each alias move committed in ``db`` (on the event loop when
    pushed, from the polling thread otherwise); a move for which it returns False is
    acknowledged later, by ``ack``."""

    def __init__(
        self,
        db: Database,
        on_move: Callable[[AliasMove], bool],
        *,
        on_lost: Callable[[], None] = lambda: None,
        retry_s: float = 5.0,
    ) -> None:
        """``on_lost`` is called when the connection is lost: ``check`` should run soon."""
        self._db = db
        self._on_move = on_move
        self._on_lost = on_lost
        self._retry_s = retry_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: Listener | None = None
        self._opening = False
        self._next_try = 0.0
        self._closed = False
        self._polling = Polling(db, on_move)
        self.last_error: str | None = None  # the polling thread keeps its own

    @property
    def listening(self) -> bool:
        """Whether moves are pushed now."""
        return self._listener is not None

    @property
    def polling(self) -> bool:
        """Whether moves are polled (the database or its driver pushes nothing)."""
        return self._polling.polling

    def start(self) -> bool:
        """Listen, watched by the running event loop; where nothing can be pushed, poll
        from a thread instead. True if moves are pushed."""
        if self._db.dialect == "postgresql":
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
        if self._loop is not None:
            self._open()
        if self._loop is None:  # no loop, or no notices from this database or driver
            self._polling.start()
        return self.listening

    def check(self) -> None:
        """Reopen a lost listener when its retry time has come (from the follow thread)."""
        if self._loop is None or self._closed or self._listener is not None or self._opening:
            return
        if time.monotonic() >= self._next_try:
            self._open()

    def _open(self) -> None:
        self._opening = True
        try:
            listener = Listener.open(self._db)
        except StorageError as exc:
            self.last_error = exc.message
            self._next_try = time.monotonic() + self._retry_s
            self._opening = False
            return
        if listener is None:  # a driver without notices: poll instead
            self._loop = None
            self._opening = False
            return
        self.last_error = None
        self._on_loop(lambda: self._watch(listener))

    def _watch(self, listener: Listener) -> None:
        self._opening = False
        if self._closed or self._loop is None:
            listener.close()
            return
        self._listener = listener
        self._loop.add_reader(listener.fileno(), self._readable)
        self._readable()  # a notice may have come before the reader was added

    def _readable(self) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            moves = listener.drain()
        except StorageError as exc:
            self.last_error = exc.message
            self._next_try = time.monotonic()
            self._drop()
            self._on_lost()
            return
        self._ack_now([m.event for m in moves if self._handled(m) and m.event is not None])

    def _handled(self, move: AliasMove) -> bool:
        try:
            return self._on_move(move)
        except Exception as exc:  # a promote call must not wait on this; the poll follows
            self.last_error = f"{type(exc).__name__}: {exc}"
            return True

    def ack(self, events: list[int]) -> None:
        """Acknowledge ``events`` (moves ``on_move`` left to the follow thread): they are
        served now, or given up on. Callable from any thread."""
        if self.polling:
            self._polling.ack(events)
        elif events:
            self._on_loop(lambda: self._ack_now(events))

    def _ack_now(self, events: list[int]) -> None:
        listener = self._listener
        if listener is None or not events:
            return  # disconnected: the promote calls stop waiting at their deadline
        try:
            listener.ack(events)
        except StorageError as exc:
            self.last_error = exc.message
            self._next_try = time.monotonic()
            self._drop()
            self._on_lost()

    def _drop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self._loop.remove_reader(listener.fileno())
        listener.close()

    def close(self) -> None:
        """Stop listening (close the connection) or polling (leave the replicas)."""
        self._closed = True
        self._on_loop(self._drop)
        self._polling.close()

    def _on_loop(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or loop.is_closed():
            fn()
            return
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop closed meanwhile
            fn()
