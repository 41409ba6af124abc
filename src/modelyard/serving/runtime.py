"""The endpoints one serving process answers for, and the thread that follows promotions.

Endpoint rows (targets, key hashes) and the versions behind them are re-read every
``interval`` seconds: a promotion, a new endpoint or a regenerated key reaches a
replica within that time, with no restart and nothing dropped. A promotion is also
pushed (PostgreSQL) or polled within milliseconds (SQLite, MariaDB; ``serving.notices``):
the scorers following the alias swap to the version they preloaded, and the promote
call returns once they have.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterable

from modelyard.deployments.entry.deployment import ScriptDeployment
from modelyard.deployments.entry.manager import ScriptEndpoints
from modelyard.errors import EndpointNotFound, ModelUnavailable, ModelyardError
from modelyard.monitoring.collector import Collector
from modelyard.registry.registry import Registry
from modelyard.serving.batcher import BatchOptions, MicroBatcher
from modelyard.serving.mirror import Mirrors
from modelyard.serving.notices import Notices
from modelyard.serving.routing import Router
from modelyard.serving.scorer import Scorer
from modelyard.storage.comparisons import ComparisonStore
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.storage.notifications import AliasMove
from modelyard.types import EndpointState, ModelRef

GC_THRESHOLDS = (50_000, 50, 100)
DEFAULT_VERSION_CACHE_BYTES = 1024 * 1024 * 1024

log = logging.getLogger("modelyard.serving")


class Runtime:
    """Endpoint records and their scorers, refreshed in the background."""

    def __init__(
        self,
        registry: Registry,
        store: EndpointStore,
        *,
        only: Iterable[str] | None = None,
        interval: float = 1.0,
        scripts: ScriptEndpoints | None = None,
        collector: Collector | None = None,
        version_cache_bytes: int = DEFAULT_VERSION_CACHE_BYTES,
    ) -> None:
        self._registry = registry
        self.collector = collector  # scored rows of endpoints that collect go to it
        # the route step: splits, mirrors' aliases, versions and aliases asked for by URL
        self.router = Router(registry, budget_bytes=version_cache_bytes)
        self.mirrors = Mirrors(ComparisonStore(registry.db))  # copies scored after answering
        self._store = store
        self._only = set(only) if only else None
        self.interval = interval
        self._records: dict[str, EndpointRecord] = {}
        self._scorers: dict[str, Scorer] = {}
        self._batchers: dict[str, tuple[tuple[int, BatchOptions], MicroBatcher]] = {}
        self._scripts = scripts
        self._stop = threading.Event()
        self._wake = threading.Event()  # follow now: a pushed move, or more to preload
        self._notices = Notices(registry.db, self._moved, on_lost=self._wake.set)
        self._unacked: list[int] = []  # pushed moves the follow thread is to serve
        self._thread: threading.Thread | None = None
        self._started = False  # the first refresh is done
        self.ready = False
        self.degraded: str | None = None  # why the registry is not followed right now

    def lookup(self, name: str) -> tuple[EndpointRecord, Scorer | None]:
        """The record of ``name`` and its scorer (None while its model loads), from memory
        alone: the request path never reads the database nor loads a model. An unknown
        name is ``EndpointNotFound``; a new endpoint is known once the follow thread has
        read it (within ``interval``)."""
        record = self._records.get(name)
        if record is None:
            raise EndpointNotFound(f"no endpoint named {name!r} on this server", endpoint=name)
        if record.kind == "script":
            raise EndpointNotFound(
                f"endpoint {name!r} runs an entry script: it answers /endpoints/{name}/score, "
                f"/endpoints/{name}/ and /endpoints/{name}/swagger.json",
                endpoint=name,
            )
        return record, self._scorers.get(name)

    def endpoint(self, name: str) -> tuple[EndpointRecord, Scorer]:
        """The record and scorer of ``name`` (from memory, as :meth:`lookup`); a scorer
        still loading its model is ``ModelUnavailable``."""
        record, scorer = self.lookup(name)
        if scorer is None:
            raise ModelUnavailable(f"endpoint {name} is loading its model: retry shortly")
        return record, scorer

    def record(self, name: str) -> EndpointRecord:
        """The row of ``name`` as last read by the follow thread."""
        record = self._records.get(name)
        if record is None:
            raise EndpointNotFound(f"no endpoint named {name!r} on this server", endpoint=name)
        return record

    def serves_script(self, name: str) -> bool:
        """Whether ``name`` is an entry-script endpoint (from memory)."""
        record = self._records.get(name)
        return record is not None and record.kind == "script"

    def fetch(self, name: str) -> tuple[EndpointRecord, Scorer]:
        """:meth:`endpoint`, reading and loading ``name`` first if this process does not
        know it yet: blocking, for callers off the request path (the Studio's test form)."""
        if name not in self._records and (self._only is None or name in self._only):
            self._sync_one(name)
        return self.endpoint(name)

    def script(self, name: str) -> ScriptDeployment | None:
        """The entry-script deployment answering for ``name``, or None for a model endpoint
        (or a name not served here, which the data plane refuses)."""
        record = self._records.get(name)
        if record is None or record.kind != "script" or self._scripts is None:
            return None
        return self._scripts.get(name)

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

    def serves(self, name: str) -> bool:
        """Whether endpoint ``name`` is served here, from memory (no database read)."""
        return name in self._records

    def unloaded(self) -> dict[str, str]:
        """The endpoints served here that cannot answer yet, each with why (from memory):
        a model endpoint with no version loaded, an entry script with no worker ready.
        Readiness is 503 until this is empty."""
        waiting: dict[str, str] = {}
        for name, record in list(self._records.items()):
            if record.kind == "script":
                try:
                    ready = self._scripts is not None and self._scripts.get(name).ready
                except ModelyardError:
                    ready = False
                if not ready:
                    waiting[name] = record.state_reason or "its entry script is starting"
                continue
            scorer = self._scorers.get(name)
            if scorer is None or scorer.current is None:
                reason = scorer.last_error if scorer is not None else None
                waiting[name] = reason or f"loading {record.target}"
        return waiting

    def names(self) -> list[str]:
        """The endpoints served."""
        return sorted(self._records)

    def refresh(self) -> None:
        """Re-read endpoint rows and follow every target to its current version."""
        try:
            records = {r.name: r for r in self._store.list()}
        except ModelyardError as error:  # keep serving what is loaded, and say so
            if self.degraded is None:
                log.warning("registry unreachable, serving the versions loaded: %s", error)
            self.degraded = f"serving the versions loaded; the registry does not answer: {error}"
            return
        if self.degraded is not None:
            log.warning("registry answers again: following promotions")
        self.degraded = None
        if self._only is not None:
            records = {k: v for k, v in records.items() if k in self._only}
        for name in list(self._records):
            if name not in records:
                self._records.pop(name, None)
                self._scorers.pop(name, None)
                if self._scripts is not None:
                    self._scripts.remove(name)
        for record in records.values():  # a new endpoint's key works before its model loads
            if record.kind == "model":
                self._records.setdefault(record.name, record)
        for record in records.values():
            self._install(record)
        self.router.sync(records.values())  # the aliases splits and mirrors name, loaded
        self.ready = True

    def _sync_one(self, name: str) -> None:
        try:
            self._install(self._store.get(name))
        except EndpointNotFound:
            return

    def _install(self, record: EndpointRecord) -> None:
        if record.kind == "script":  # run by its own processes, not by a Scorer
            if self._scripts is not None:
                self._scripts.sync(record)
            self._records[record.name] = record
            return
        scorer = self._scorers.get(record.name)
        if scorer is None or str(scorer.target) != str(ModelRef.parse(record.target)):
            scorer = Scorer(
                self._registry,
                record.target,
                check_packages=bool(record.options.get("check_packages", True)),
                endpoint=record.name,
            )
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

        Moves are followed from before the first read: one committed while the versions
        load is acknowledged once it is served, never before (a promote call that
        returns meanwhile would otherwise leave this replica on the old version).
        """
        self._notices.start()
        self.mirrors.start()
        self.refresh()
        self._started = True
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        self._thread = threading.Thread(target=self._loop, name="modelyard-follow", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._follow()
            except Exception:  # following must outlive any one round's failure
                log.exception("following the registry failed this round; trying again")

    def _follow(self) -> None:
        """One round: re-read the endpoints, acknowledge what is served, preload on."""
        unacked, self._unacked = self._unacked, []
        self.refresh()
        self._notices.ack(unacked)  # served now, or failed: the old version serves
        # One load per scorer and round, so that a pushed move is never kept waiting
        # behind a whole series of preloads.
        if any([scorer.preload() for scorer in list(self._scorers.values())]):
            self._wake.set()
        self._notices.check()

    def _moved(self, move: AliasMove) -> bool:
        """A pushed move (on the event loop) or a polled pointer (from the polling thread):
        swap the scorers following that alias to it if they preloaded it; the follow thread
        then loads what they had not and preloads on. True if this replica serves the move
        already (or nothing here follows it)."""
        if not self._started:  # still loading: the follow thread acknowledges it once loaded
            if move.event is not None:
                self._unacked.append(move.event)
            self._wake.set()
            return False
        served = True
        for scorer in list(self._scorers.values()):
            if scorer.target.name == move.model and scorer.target.alias == move.alias:
                served = scorer.noticed(move) and served
        if not served and move.event is not None:
            self._unacked.append(move.event)
        self._wake.set()
        return served

    def stop(self) -> None:
        """Stop following (the loaded versions stay usable)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._notices.close()
        self.mirrors.stop()  # what is queued is compared and written first
        if self._scripts is not None:
            self._scripts.stop()
