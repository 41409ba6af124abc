"""Mirrored traffic: a sampled share of an endpoint's requests scored again on another
alias after the answer is sent, compared, never returned.

``Mirrors.offer`` is called once the answer is out (a data-plane after hook): it puts the
request's decoded rows and its answer on a bounded queue and returns at once; a full queue
drops the copy (counted as ``dropped``), never the request. One daemon thread scores each
copy on the mirrored alias's scorer, compares the two answers (``serving.comparing``) and
adds the result to a tally per (endpoint, answering version, mirrored version); the tallies
are written to ``endpoint_comparisons`` every ``flush_s`` and when the replica stops.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelyard.errors import ModelyardError
from modelyard.monitoring.prometheus import MIRROR
from modelyard.serving.comparing import compare
from modelyard.serving.routing import Router
from modelyard.serving.scorer import Scored, Scorer
from modelyard.storage.comparisons import CLASSES, NUMBERS, ComparisonStore, Tally

if TYPE_CHECKING:  # the pipeline imports the runtime, which imports the router
    from modelyard.serving.dataplane import Exchange

log = logging.getLogger("modelyard.serving")
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Copy:
    """One answered request to score again on ``scorer`` (alias ``alias``)."""

    endpoint: str
    alias: str
    scorer: Scorer
    columns: Any  # the decoded rows, as the answering scorer got them
    answered: Scored
    answered_ms: float


class Mirrors:
    """The queue of copies, the thread scoring them, and the tallies it keeps."""

    def __init__(
        self, store: ComparisonStore, *, flush_s: float = 1.0, queue_size: int = QUEUE_SIZE
    ) -> None:
        self._store = store
        self.flush_s = flush_s
        self._queue: queue.Queue[Copy | None] = queue.Queue(maxsize=queue_size)
        self._tallies: dict[tuple[str, int, str, int | None, str], Tally] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def offer(self, copy: Copy) -> bool:
        """Queue ``copy``; False (and counted as dropped) if the queue is full. Never blocks."""
        try:
            self._queue.put_nowait(copy)
        except queue.Full:
            MIRROR.labels(copy.endpoint, copy.alias, "dropped").inc()
            return False
        return True

    def start(self) -> None:
        """Start the thread that scores copies and writes tallies."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="modelyard-mirror", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Score what is queued, write the tallies, stop the thread."""
        if self._thread is None:
            return
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1)
        self._thread.join(timeout=10)
        self._thread = None
        self.flush()

    def _run(self) -> None:
        due = time.monotonic() + self.flush_s
        while True:
            try:
                copy = self._queue.get(timeout=max(due - time.monotonic(), 0.01))
            except queue.Empty:
                copy = None
            if copy is not None:
                self._score(copy)
            if time.monotonic() >= due:
                self.flush()
                due = time.monotonic() + self.flush_s
            if self._stopping.is_set() and self._queue.empty():
                return

    def _score(self, copy: Copy) -> None:
        started = time.perf_counter()
        try:
            mirrored = copy.scorer.score(copy.columns)
            difference = compare(copy.answered, mirrored)
        except (ModelyardError, ValueError) as exc:
            log.info("mirror of %s on %s failed: %s", copy.endpoint, copy.alias, exc)
            self._add(copy, None, None, 0.0)
            MIRROR.labels(copy.endpoint, copy.alias, "failed").inc()
            return
        except Exception:  # a bug in a model or here: logged, never the client's problem
            log.exception("mirror of %s on %s failed", copy.endpoint, copy.alias)
            self._add(copy, None, None, 0.0)
            MIRROR.labels(copy.endpoint, copy.alias, "failed").inc()
            return
        mirrored_ms = (time.perf_counter() - started) * 1000
        self._add(copy, mirrored, difference, mirrored_ms)
        MIRROR.labels(copy.endpoint, copy.alias, "compared").inc()

    def _add(
        self, copy: Copy, mirrored: Scored | None, difference: Any, mirrored_ms: float
    ) -> None:
        current = copy.scorer.current
        version = (
            mirrored.version.version
            if mirrored is not None
            else (current.version.version if current is not None else None)
        )
        kind = difference.kind if difference is not None else _kind(copy.answered)
        key = (copy.endpoint, copy.answered.version.version, copy.alias, version, kind)
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = Tally(*key)
            tally.requests += 1
            if difference is None:
                tally.failed += 1
                return
            tally.rows += difference.rows
            tally.agreed += difference.agreed
            tally.abs_diff_sum += difference.abs_diff_sum
            tally.abs_diff_max = max(tally.abs_diff_max, difference.abs_diff_max)
            tally.answered_ms_sum += copy.answered_ms
            tally.answered_ms_max = max(tally.answered_ms_max, copy.answered_ms)
            tally.mirrored_ms_sum += mirrored_ms
            tally.mirrored_ms_max = max(tally.mirrored_ms_max, mirrored_ms)

    def flush(self) -> None:
        """Write the tallies added up since the last flush (kept for the next one if the
        store is unreachable)."""
        with self._lock:
            tallies, self._tallies = list(self._tallies.values()), {}
        if not tallies:
            return
        try:
            self._store.add(tallies)
        except ModelyardError as exc:
            log.warning("mirror comparisons not written yet: %s", exc.message)
            with self._lock:
                for tally in tallies:
                    key = (
                        tally.endpoint,
                        tally.answered_version,
                        tally.mirrored_alias,
                        tally.mirrored_version,
                        tally.kind,
                    )
                    found = self._tallies.setdefault(key, Tally(*key))
                    found.add(tally)


def _kind(answered: Scored) -> str:
    """What a comparison of ``answered`` would be: of classes or of numbers."""
    numbers = answered.classes is None and answered.predictions.dtype.kind in "fc"
    return NUMBERS if numbers else CLASSES


def mirroring(router: Router, mirrors: Mirrors) -> Callable[[Exchange], None]:
    """The data plane's after hook: offer an answered request (not one that asked for a
    version or alias by URL) to ``mirrors`` if its endpoint mirrors and it is sampled."""

    def hook(exchange: Exchange) -> None:
        record, answered, scored = exchange.record, exchange.scorer, exchange.scored
        if exchange.pinned or exchange.error is not None or exchange.columns is None:
            return
        if record is None or answered is None or scored is None:
            return
        target = router.mirror(record, answered)
        if target is not None:
            alias, scorer = target
            mirrors.offer(
                Copy(record.name, alias, scorer, exchange.columns, scored, exchange.score_ms)
            )

    return hook
