"""The collector: scoring hands it observations and never waits for the database.

``offer`` (an ``Observation``) and ``offer_scored`` (a model endpoint's scored request,
already JSON: ``monitoring.wire.scored``) append to an in-memory list bounded in rows,
under a lock held for a few assignments: a request's path does nothing else for
collection. Once ``CHUNK_ROWS`` rows are offered, the thread that offered the last writes
them as the items of a batch (``monitoring.wire``: the observations as records, the
scored requests joined as one item); what is offered more slowly, the background thread
writes once ``flush_s`` has passed. The rest waits as bytes, for the background
thread to take ``batch_rows`` at a time (or what is there once the last batch was taken
``flush_s`` ago) and hand them to the collector's sink: a server's is the writer process
(``monitoring.writer``), which turns groups into columns and builds the rows and blocks
on another core; the SDK's writes in this process (``monitoring.writing.InProcess``).
When the store is down (unreachable, locked, full) the thread keeps the batch in hand and
retries with backoff, the buffer fills, and every row offered beyond ``max_rows`` is
dropped and counted (``modelyard_collection_dropped_total``), never silently; once the
store answers again, writing resumes by itself, oldest rows first.
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
# Rows written as JSON together by the thread that offers the last of them: a thousand at
# once held each request's tail (p99) 5 ms longer, a few dozen cost more CPU.
CHUNK_ROWS = 128
UNWRITABLE = (TypeError, ValueError, orjson.JSONEncodeError)  # a value JSON cannot hold


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
    """A bounded buffer of observations and scored requests, and the thread that writes
    them."""

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
        self._fresh: list[Observation | bytes] = []  # offered, not in a batch's items yet
        self._fresh_rows = 0
        self._buffer: deque[tuple[bytes, int]] = deque()  # items of the next batches, rows
        self._buffered = 0  # rows in the buffer
        self._encoding = 0  # offered rows being written as JSON, out of the lock
        self._pending = 0  # rows offered and not written (or dropped) yet
        self._oldest = 0.0  # when the next batch started to wait (monotonic)
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
        """Buffer ``observation`` (never blocks for the store; it must not change once
        offered); False if it was dropped, the buffer full."""
        return self._add(observation, observation.rows)

    def offer_scored(self, scored: bytes, rows: int) -> bool:
        """Buffer a model endpoint's scored request of ``rows`` rows (``wire.scored``);
        False if it was dropped, the buffer full."""
        return self._add(scored, rows)

    def _add(self, fresh: Observation | bytes, rows: int) -> bool:
        with self._lock:
            if self._pending + rows > self.max_rows:
                self.dropped += rows
                COLLECTION_DROPPED.inc(rows)
                return False
            if self._idle.is_set():
                self._oldest = time.monotonic()
                self._idle.clear()  # not on every offer: clearing takes the event's lock
            self._fresh.append(fresh)
            self._fresh_rows += rows
            self._pending += rows
            if self._fresh_rows < min(self.batch_rows, CHUNK_ROWS):
                return True
            chunk, rows = self._fresh, self._fresh_rows
            self._fresh, self._fresh_rows = [], 0
            self._encoding += 1
        self._encode(chunk, rows)
        return True

    def _encode(self, chunk: list[Observation | bytes], rows: int) -> None:
        """Write ``chunk`` (of ``rows`` rows) as the items of a batch into the buffer, on
        the calling thread."""
        try:
            items, lost = self._records(chunk, rows)
        except Exception:  # a bug, not the request's: logged, its rows counted as dropped
            log.exception("collection: %d offered requests could not be written", len(chunk))
            items, lost = [], rows
        if lost:
            self._lose(lost)
        with self._lock:
            self._encoding -= 1
            self._buffer.extend(items)
            self._buffered += sum(rows for _, rows in items)
            full = self._buffered >= self.batch_rows
        if full or self._urgent.is_set():
            self._wake.set()

    @property
    def sink(self) -> Sink:
        """Where this collector's batches go."""
        return self._sink

    def count_dropped(self, rows: int) -> None:
        """Count ``rows`` dropped before they reached this collector (by an entry script's
        collector whose buffer was full)."""
        if rows > 0:
            with self._lock:
                self.dropped += rows
            COLLECTION_DROPPED.inc(rows)

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
        a batch is due when ``batch_rows`` are buffered, the last batch was taken
        ``flush_s`` ago (or the first row offered since), or ``flush``/``stop`` asks for
        everything now; what is offered and not written yet is written then, here."""
        with self._lock:
            if not self._buffer and not self._fresh:
                return [], 0, self.flush_s
            waited = time.monotonic() - self._oldest
            now = self._urgent.is_set() or self._stop.is_set()
            if not now and self._buffered < self.batch_rows and waited < self.flush_s:
                return [], 0, self.flush_s - waited
            chunk, chunk_rows = self._fresh, self._fresh_rows
            self._fresh, self._fresh_rows = [], 0
            if chunk:
                self._encoding += 1
        if chunk:
            self._encode(chunk, chunk_rows)
        batch: list[bytes] = []
        rows = 0
        with self._lock:
            while self._buffer and rows < self.batch_rows:
                item, n = self._buffer.popleft()
                batch.append(item)
                rows += n
            self._buffered -= rows
            self._oldest = time.monotonic()
        return batch, rows, 0.0

    def _records(
        self, chunk: list[Observation | bytes], rows: int
    ) -> tuple[list[tuple[bytes, int]], int]:
        """``chunk`` (of ``rows`` rows) as the items of a batch (``monitoring.wire``) and
        their rows, and the rows lost: each observation as a record (one JSON cannot
        hold is lost), the scored requests as one item."""
        scored: list[bytes] = []
        items: list[tuple[bytes, int]] = []
        lost = 0
        for item in chunk:
            if type(item) is bytes:
                scored.append(item)
                continue
            assert isinstance(item, Observation)
            rows -= item.rows
            try:
                items.append((wire.encode(item), item.rows))
            except UNWRITABLE:
                log.warning("collection: an observation of %s cannot be written", item.endpoint)
                lost += item.rows
        if scored:
            items.append((wire.scored_item(scored), rows))
        return items, lost

    def _lose(self, rows: int) -> None:
        """Count ``rows`` offered as dropped."""
        with self._lock:
            self._pending -= rows
            self.dropped += rows
        COLLECTION_DROPPED.inc(rows)

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
                    empty = not self._buffer and not self._fresh and not self._encoding
                    if empty:
                        self._urgent.clear()
                        self._idle.set()
                if self._stop.is_set() and empty:
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
