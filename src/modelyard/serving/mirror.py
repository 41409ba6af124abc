"""Mirrored traffic: a sampled share of an endpoint's requests scored again on another
alias after the answer is sent, compared, never returned.

``Mirrors.offer`` is called once the answer is out (a data-plane after hook): it puts the
request's decoded rows and its answer on a bounded queue and returns at once; a full queue
drops the copy (counted as ``dropped``), never the request. One daemon thread scores the
copies on the mirrored alias's scorer, those that gathered in 10 ms in one call (a call,
not a row, is most of what a small request costs), compares the two answers
(``serving.comparing``) and adds the result to a tally per (endpoint, answering version,
mirrored version); the mirrored latency of a copy is its share of its batch's. The tallies
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

import numpy as np
import pandas as pd

from modelyard.errors import ModelyardError
from modelyard.monitoring.prometheus import MIRROR
from modelyard.serving.comparing import Difference, compare
from modelyard.serving.routing import Router
from modelyard.serving.scorer import Scored, Scorer
from modelyard.storage.comparisons import CLASSES, NUMBERS, ComparisonStore, Tally

if TYPE_CHECKING:  # the pipeline imports the runtime, which imports the router
    from modelyard.serving.dataplane import Exchange

log = logging.getLogger("modelyard.serving")
QUEUE_SIZE = 1000
BATCH = 256  # copies scored in one call, at most
GATHER_S = 0.01  # how long copies gather before a batch is scored


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
                first = self._queue.get(timeout=max(due - time.monotonic(), 0.01))
            except queue.Empty:
                first = None
            if first is not None:
                # Let copies gather, then score them together: one call per scorer and
                # batch costs the serving process a fraction of one call per copy.
                self._stopping.wait(GATHER_S)
                copies = [first, *self._drain(BATCH - 1)]
                for group in _by_scorer([c for c in copies if c is not None]):
                    self._score(group)
            if time.monotonic() >= due:
                self.flush()
                due = time.monotonic() + self.flush_s
            if self._stopping.is_set() and self._queue.empty():
                return

    def _drain(self, most: int) -> list[Copy | None]:
        out: list[Copy | None] = []
        while len(out) < most:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def _score(self, copies: list[Copy]) -> None:
        """Score ``copies`` (one scorer, one answering version) in one call and compare
        them in one go; one by one if that fails, to find the copy that fails."""
        started = time.perf_counter()
        try:
            columns = (
                copies[0].columns if len(copies) == 1 else _joined([c.columns for c in copies])
            )
            mirrored = copies[0].scorer.score(columns)
            answered = copies[0].answered
            if len(copies) > 1:
                joined = np.concatenate([c.answered.predictions for c in copies])
                answered = Scored(joined, answered.version, answered.classes)
            difference = compare(answered, mirrored)
        except Exception as exc:
            if len(copies) > 1:
                for copy in copies:
                    self._score([copy])
                return
            copy = copies[0]
            if isinstance(exc, ModelyardError | ValueError):
                log.info("mirror of %s on %s failed: %s", copy.endpoint, copy.alias, exc)
            else:  # a bug in a model or here: logged, never the client's problem
                log.exception("mirror of %s on %s failed", copy.endpoint, copy.alias)
            self._add(copies, None, None, 0.0)
            return
        each_ms = (time.perf_counter() - started) * 1000 / len(copies)
        self._add(copies, mirrored, difference, each_ms)

    def _add(
        self,
        copies: list[Copy],
        mirrored: Scored | None,
        difference: Difference | None,
        each_ms: float,
    ) -> None:
        """Add ``copies`` (one scorer, one answering version) to their tally: compared
        (``difference`` of all their rows, ``each_ms`` of mirrored scoring each), or
        failed (``difference`` None)."""
        first = copies[0]
        current = first.scorer.current
        version = (
            mirrored.version.version
            if mirrored is not None
            else (current.version.version if current is not None else None)
        )
        kind = difference.kind if difference is not None else _kind(first.answered)
        key = (first.endpoint, first.answered.version.version, first.alias, version, kind)
        outcome = "failed" if difference is None else "compared"
        MIRROR.labels(first.endpoint, first.alias, outcome).inc(len(copies))
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = Tally(*key)
            tally.requests += len(copies)
            if difference is None:
                tally.failed += len(copies)
                return
            tally.rows += difference.rows
            tally.agreed += difference.agreed
            tally.abs_diff_sum += difference.abs_diff_sum
            tally.abs_diff_max = max(tally.abs_diff_max, difference.abs_diff_max)
            tally.answered_ms_sum += sum(c.answered_ms for c in copies)
            tally.answered_ms_max = max(tally.answered_ms_max, *(c.answered_ms for c in copies))
            tally.mirrored_ms_sum += each_ms * len(copies)
            tally.mirrored_ms_max = max(tally.mirrored_ms_max, each_ms)

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


def _by_scorer(copies: list[Copy]) -> list[list[Copy]]:
    """``copies`` grouped by the scorer they go to and the version that answered them."""
    groups: dict[tuple[int, str, int], list[Copy]] = {}
    for copy in copies:
        key = (id(copy.scorer), copy.endpoint, copy.answered.version.version)
        groups.setdefault(key, []).append(copy)
    return list(groups.values())


def _joined(parts: list[Any]) -> Any:
    """The rows of every copy, one after the other: one DataFrame, or one array per
    column (every copy of one endpoint was decoded against the same signature)."""
    if all(isinstance(p, pd.DataFrame) for p in parts):
        return pd.concat(parts, ignore_index=True)
    if any(isinstance(p, pd.DataFrame) for p in parts):
        raise ValueError("copies decoded differently")
    names = list(parts[0])
    return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in names}


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
