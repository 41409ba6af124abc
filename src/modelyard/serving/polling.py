"""Promotions polled by a replica, where the database pushes nothing (SQLite, MariaDB).

A thread of its own reads the alias generation (one primary-key row, ``storage.replicas``)
every ``POLL_S``. When the number changes it reads where the aliases point now and hands
each pointer to ``on_move``, which swaps the scorers following it to the version they
preloaded; if they all serve it now, the generation is acknowledged at once, else the
follow thread loads what is missing and acknowledges it (``ack``), served or given up
on. The promote call returns on those acknowledgements, so a request sent after it
returned meets the new version, as with PostgreSQL's push.

The replica joins the table of replicas when polling starts, beats every ``BEAT_S`` and
leaves when it stops; if the database goes away it keeps serving what it has and tries
again on the next round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from modelyard.errors import ModelyardError
from modelyard.storage import replicas
from modelyard.storage.engine import Database
from modelyard.storage.notifications import AliasMove

POLL_S = 0.02  # how often the generation is read: a move is noticed within this
BEAT_S = 1.0  # how often the replica says it is alive (replicas.LIVE_S is 3 s)
_RETRY_S = 1.0  # after a database error


class Polling:
    """Calls ``on_move`` from its own thread for every alias, each time a move commits in
    ``db``; a generation for which ``on_move`` returned False for a pointer is
    acknowledged later, by ``ack``."""

    def __init__(self, db: Database, on_move: Callable[[AliasMove], bool]) -> None:
        self._db = db
        self._on_move = on_move
        self._replica: str | None = None
        self._served = 0  # the highest generation acknowledged
        self._lock = threading.Lock()  # acknowledgements come from two threads
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch = replicas.GenerationWatch(db)
        self.last_error: str | None = None

    @property
    def polling(self) -> bool:
        """Whether the polling thread runs."""
        return self._thread is not None

    def start(self) -> None:
        """Join the replicas (moves wait for this one from now on) and poll from a daemon
        thread; if the database is away, the thread joins once it is back."""
        try:
            self._replica = replicas.join(self._db)
        except ModelyardError as exc:
            self.last_error = exc.message
        self._thread = threading.Thread(target=self._run, name="modelyard-poll", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._poll()
        finally:  # the watch's connection is this thread's: closed by it, never mid-poll
            self._watch.close()

    def _poll(self) -> None:
        seen: int | None = None
        next_beat = 0.0
        pause = 0.0
        while not self._stop.wait(pause):
            pause = POLL_S
            try:
                if self._replica is None:
                    self._replica = replicas.join(self._db)
                if time.monotonic() >= next_beat:
                    replicas.beat(self._db, self._replica, self._served)
                    next_beat = time.monotonic() + BEAT_S
                if self._watch.number() != seen:  # then read the whole row, and follow
                    now = replicas.generation(self._db)
                    self._follow(now)
                    seen = now.number
            except ModelyardError as exc:  # the database is away: serve on, retry
                self.last_error = exc.message
                pause = _RETRY_S

    def _follow(self, now: replicas.Generation) -> None:
        sent_at = now.moved_at.timestamp() if now.moved_at is not None else None
        served = True
        for pointer in replicas.pointers(self._db):
            move = AliasMove(pointer.model, pointer.alias, pointer.version, now.number, sent_at)
            try:
                served = self._on_move(move) and served
            except Exception as exc:  # a promote call must not wait on this; the poll follows
                self.last_error = f"{type(exc).__name__}: {exc}"
        if served:
            self.ack([now.number])

    def ack(self, generations: list[int]) -> None:
        """Acknowledge ``generations``: they are served now, or given up on (the old
        version serves). Callable from any thread."""
        replica = self._replica
        if not generations or replica is None:
            return
        top = max(generations)
        with self._lock:
            try:
                replicas.acknowledge(self._db, replica, top)
            except ModelyardError as exc:  # the promote calls stop waiting at their deadline
                self.last_error = exc.message
                return
            self._served = max(self._served, top)

    def close(self) -> None:
        """Stop polling and leave the replicas: moves stop waiting for this one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        replica, self._replica = self._replica, None
        if replica is not None:
            try:
                replicas.leave(self._db, replica)
            except ModelyardError as exc:  # it stops beating: moves wait LIVE_S at most
                self.last_error = exc.message
