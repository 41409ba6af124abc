"""The endpoints one serving process answers for, and the thread that follows promotions.

Endpoint rows (targets, key hashes) and the versions behind them are re-read every
``interval`` seconds: a promotion, a new endpoint or a regenerated key reaches a
replica within that time, with no restart and nothing dropped.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterable

from modelyard.errors import EndpointNotFound, ModelyardError
from modelyard.registry import Registry
from modelyard.registry.endpoints import EndpointRecord, EndpointStore
from modelyard.serving.batcher import BatchOptions, MicroBatcher
from modelyard.serving.scorer import Scorer
from modelyard.types import EndpointState, ModelRef

GC_THRESHOLDS = (50_000, 50, 100)


class Runtime:
    """Endpoint records and their scorers, refreshed in the background."""

    def __init__(
        self,
        registry: Registry,
        store: EndpointStore,
        *,
        only: Iterable[str] | None = None,
        interval: float = 1.0,
    ) -> None:
        self._registry = registry
        self._store = store
        self._only = set(only) if only else None
        self.interval = interval
        self._records: dict[str, EndpointRecord] = {}
        self._scorers: dict[str, Scorer] = {}
        self._batchers: dict[str, tuple[tuple[int, BatchOptions], MicroBatcher]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = False

    def endpoint(self, name: str) -> tuple[EndpointRecord, Scorer]:
        """The record and scorer of ``name``; a new endpoint is picked up on first use."""
        if name not in self._records and (self._only is None or name in self._only):
            self._sync_one(name)
        if name not in self._records:
            raise EndpointNotFound(f"no endpoint named {name!r} on this server", endpoint=name)
        return self._records[name], self._scorers[name]

    def batcher(self, name: str) -> MicroBatcher | None:
        """The micro-batcher of ``name`` if its options ask for one (made on first use)."""
        record, scorer = self.endpoint(name)
        batch = record.options.get("batch")
        if not batch:
            return None
        options = BatchOptions(int(batch.get("max_rows", 64)), float(batch.get("max_wait_ms", 2)))
        key = (id(scorer), options)
        found = self._batchers.get(name)
        if found is None or found[0] != key:
            found = (key, MicroBatcher(scorer.score, options))
            self._batchers[name] = found
        return found[1]

    def names(self) -> list[str]:
        """The endpoints served."""
        return sorted(self._records)

    def refresh(self) -> None:
        """Re-read endpoint rows and follow every target to its current version."""
        try:
            records = {r.name: r for r in self._store.list()}
        except ModelyardError:
            return  # the registry is unreachable: keep serving what is loaded
        if self._only is not None:
            records = {k: v for k, v in records.items() if k in self._only}
        for name in list(self._records):
            if name not in records:
                self._records.pop(name, None)
                self._scorers.pop(name, None)
        for record in records.values():
            self._install(record)
        self.ready = True

    def _sync_one(self, name: str) -> None:
        try:
            self._install(self._store.get(name))
        except EndpointNotFound:
            return

    def _install(self, record: EndpointRecord) -> None:
        scorer = self._scorers.get(record.name)
        if scorer is None or str(scorer.target) != str(ModelRef.parse(record.target)):
            scorer = Scorer(self._registry, record.target)
        scorer.refresh()
        self._scorers[record.name] = scorer
        self._records[record.name] = record
        state = EndpointState.HEALTHY if scorer.current else EndpointState.UNHEALTHY
        if record.state is not state:
            with contextlib.suppress(ModelyardError):
                self._store.set_state(record.name, state)

    def start(self) -> None:
        """Load everything once, then follow changes in a daemon thread.

        The loaded models are moved out of the garbage collector's sight and its young
        generation is made larger: full collections over the model's objects were the
        p99 tail of single-row scoring (100+ ms pauses every couple of seconds).
        """
        self.refresh()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        self._thread = threading.Thread(target=self._loop, name="modelyard-follow", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def stop(self) -> None:
        """Stop following (the loaded versions stay usable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
