"""The collector: scoring hands it observations and never waits for the database.

``offer`` writes the observation as one JSON record (``monitoring.wire``) and appends it
to an in-memory buffer bounded in rows, under a lock held for a few assignments; a
background thread hands the buffer to its sink in batches of ``batch_rows``, or what is
there once the oldest row has waited ``flush_s`` (writing each few rows as they come
would cost a transaction and an Arrow block per handful of requests). A server's sink is
the writer process (``monitoring.writer``), which builds the rows and blocks on another
core; the SDK's writes in this process (``monitoring.writing.InProcess``). When the store is down
(unreachable, locked, full) the thread keeps the batch in hand and retries with backoff,
the buffer fills, and every row offered beyond it is dropped and counted
(``modelyard_collection_dropped_total``), never silently; once the store answers again,
writing resumes by itself, oldest rows first.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import orjson

from modelyard.errors import ModelyardError
from modelyard.monitoring import wire
from modelyard.monitoring.observation import Observation
from modelyard.monitoring.prometheus import COLLECTION_DROPPED

log = logging.getLogger("modelyard.monitoring")
_LIVE: weakref.WeakSet[Collector] = weakref.WeakSet()
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


class Sink(Protocol):
    """Where the collector's batches go: one call per batch, one transaction."""

    def __call__(self, records: list[bytes]) -> None:
        """Write ``records``; ``ModelyardError`` if the store cannot take them now (kept
        and sent again), any other exception if it refuses the rows (dropped, counted)."""

    def close(self, timeout_s: float = 5.0) -> None:
        """Release what the sink holds (after the last batch)."""


@dataclass(frozen=True)
class CollectorStats:
    """A collector's counters since it started."""

    queued: int  # rows in the buffer or in hand, not written yet
    written: int
    dropped: int
    failures: int  # failed batch writes
    last_error: str | None


class Collector:
    """A bounded buffer of observations and the thread that writes them."""

    def __init__(
        self,
        sink: Sink,
        *,
        max_rows: int = 10_000,
        batch_rows: int = 1_000,
        flush_s: float = 0.5,
    ) -> None:
        self._sink = sink
        self.max_rows = max_rows
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self._buffer: deque[tuple[bytes, int]] = deque()  # records and their rows
        self._pending = 0  # rows buffered or in the writer's hand
        self._oldest = 0.0  # when the buffer last went from empty to not (monotonic)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._urgent = threading.Event()  # flush(): write what is buffered now
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.last_error: str | None = None

    def offer(self, observation: Observation) -> bool:
        """Buffer ``observation`` (never blocks); False if it was dropped, the buffer full
        (or a value in it could not be written as JSON)."""
        rows = observation.rows
        if self._pending + rows > self.max_rows:  # full: no need to write the record
            self._drop(rows)
            return False
        try:
            record = wire.encode(observation)
        except (TypeError, orjson.JSONEncodeError):
            log.warning("collection: an observation of %s cannot be written", observation.endpoint)
            self._drop(rows)
            return False
        with self._lock:
            if self._pending + rows > self.max_rows:
                self.dropped += rows
                COLLECTION_DROPPED.inc(rows)
                return False
            if not self._buffer:
                self._oldest = time.monotonic()
                self._idle.clear()  # not on every offer: clearing takes the event's lock
            self._buffer.append((record, rows))
            self._pending += rows
            full = self._pending >= self.batch_rows
        if full:
            self._wake.set()
        return True

    @property
    def sink(self) -> Sink:
        """Where this collector's batches go."""
        return self._sink

    def _drop(self, rows: int) -> None:
        with self._lock:
            self.dropped += rows
        COLLECTION_DROPPED.inc(rows)

    def count_dropped(self, rows: int) -> None:
        """Count ``rows`` dropped before they reached this collector (by an entry script's
        collector whose buffer was full)."""
        if rows > 0:
            self._drop(rows)

    def stats(self) -> CollectorStats:
        """The counters now."""
        with self._lock:
            return CollectorStats(
                self._pending, self.written, self.dropped, self.failures, self.last_error
            )

    def start(self) -> None:
        """Start the writer thread (once); its counters join the process's totals."""
        _LIVE.add(self)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="modelyard-collector", daemon=True
            )
            self._thread.start()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything offered so far is written; False if ``timeout_s`` passed."""
        self._urgent.set()
        self._wake.set()
        return self._idle.wait(timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Write what is buffered (for up to ``timeout_s``), then stop the thread and close
        the sink; its counters leave the process's totals."""
        self.flush(timeout_s)
        _LIVE.discard(self)
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=timeout_s)
        self._sink.close(timeout_s)
        if thread is not None:
            thread.join(timeout=timeout_s)  # a write the sink's closing ended

    def _take(self) -> tuple[list[bytes], int, float]:
        """The next batch to write and its rows, or nothing and how long to wait for one:
        a batch is due when ``batch_rows`` are buffered, the oldest row has waited
        ``flush_s``, or ``flush``/``stop`` asks for everything now."""
        batch: list[bytes] = []
        rows = 0
        with self._lock:
            if not self._buffer:
                return batch, 0, self.flush_s
            waited = time.monotonic() - self._oldest
            now = self._urgent.is_set() or self._stop.is_set()
            if not now and self._pending < self.batch_rows and waited < self.flush_s:
                return batch, 0, self.flush_s - waited
            while self._buffer and rows < self.batch_rows:
                record, n = self._buffer.popleft()
                batch.append(record)
                rows += n
        return batch, rows, 0.0

    def _run(self) -> None:
        batch: list[bytes] = []
        rows = 0
        outage = 0
        while True:
            wait_s = 0.0
            if not batch:
                batch, rows, wait_s = self._take()
            if not batch:
                with self._lock:
                    if not self._buffer:
                        self._urgent.clear()
                        self._idle.set()
                if self._stop.is_set() and not self._buffer:
                    return
                self._wake.wait(wait_s)
                self._wake.clear()
                continue
            try:
                self._sink(batch)
            except ModelyardError as exc:
                self._failed(exc.message, outage, rows)
                outage += 1
                if self._stop.wait(BACKOFF_S[min(outage - 1, len(BACKOFF_S) - 1)]):
                    return
                continue
            except Exception as exc:  # a row that cannot be stored: dropped, counted, said
                log.exception("collection: a batch of %d rows could not be written", rows)
                with self._lock:
                    self._pending -= rows
                    self.dropped += rows
                    self.last_error = f"{type(exc).__name__}: {exc}"
                COLLECTION_DROPPED.inc(rows)
                batch = []
                continue
            with self._lock:
                self._pending -= rows
                self.written += rows
                dropped = self.dropped
            if outage:
                log.warning(
                    "collection store answers again: writing resumed (%d rows dropped so far)",
                    dropped,
                )
                outage = 0
            batch = []

    def _failed(self, message: str, outage: int, rows: int) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = message
        if outage == 0:
            log.warning(
                "collection store unavailable (%s): keeping %d rows, buffering up to %d, "
                "dropping and counting the rest until it answers",
                message,
                rows,
                self.max_rows,
            )


def collection_counters() -> dict[str, int]:
    """This process's collection counters, named as Prometheus exports them."""
    live = list(_LIVE)
    stats = [c.stats() for c in live]
    return {
        "modelyard_collection_dropped_total": sum(s.dropped for s in stats),
        "modelyard_collection_written_total": sum(s.written for s in stats),
        "modelyard_collection_queued_rows": sum(s.queued for s in stats),
    }
