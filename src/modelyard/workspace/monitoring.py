"""``ws.monitoring``: reports, feedback, checks, the events feed and webhooks.

    report = ws.monitoring.report("churn", window="1d")
    report.drift.drifted                       # ["Age"]
    ws.monitoring.feedback("churn", [{"request_id": "cust-1042", "label": 1}])
    hook, secret = ws.monitoring.webhooks.add("https://hooks.example.com/modelyard")

It also builds what runs elsewhere: the collector and entry-script intake of a scoring
replica, and the periodic tasks of the leading scheduler (policy checks, label sources,
webhook deliveries, retention).
"""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from modelyard.config.monitoring import parse_duration
from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, EndpointNotFound
from modelyard.jobs.scheduler import Periodic
from modelyard.monitoring.checks import Checks, Fired
from modelyard.monitoring.collector import Collector, Sink
from modelyard.monitoring.intake import Intake
from modelyard.monitoring.labels import parse_feedback, read_source
from modelyard.monitoring.policies import Policy, parse_policy
from modelyard.monitoring.report import Report, Reporter, Span
from modelyard.monitoring.webhooks import Attempt, Dispatcher, secret_for
from modelyard.monitoring.writer import WriterProcess
from modelyard.monitoring.writing import InProcess
from modelyard.registry.registry import Registry
from modelyard.storage.collection import CollectionStore
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.storage.engine import Database
from modelyard.storage.feed import FeedEvent, FeedStore
from modelyard.storage.policy_states import PolicyState, PolicyStateStore
from modelyard.storage.schema import utcnow
from modelyard.storage.webhooks import Delivery, Webhook, WebhookStore
from modelyard.types import FEED_KINDS, ModelRef
from modelyard.workspace.jobs import RunQueue

log = logging.getLogger("modelyard.monitoring")
PURGE_EVERY_S = 3600.0
DISPATCH_EVERY_S = 1.0


class Webhooks:
    """``ws.monitoring.webhooks``: receivers of the events feed."""

    def __init__(self, store: WebhookStore, dispatcher: Dispatcher, settings: Settings) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._settings = settings

    def add(self, url: str, events: Iterable[str] = ()) -> tuple[Webhook, str]:
        """A receiver of the events of ``events`` kinds (all when empty) that happen from
        now on; returns it with its signing secret (shown this once)."""
        kinds = list(dict.fromkeys(events))
        unknown = [k for k in kinds if k not in FEED_KINDS]
        if unknown:
            raise ConfigError(
                f"unknown event kind {unknown[0]!r}: choose among {', '.join(FEED_KINDS)}"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook URL {url!r} must start with http:// or https://")
        secret_for(self._settings.admin_key, "probe")  # no admin key: refused before storing
        hook = self._store.add(url, kinds)
        return hook, secret_for(self._settings.admin_key, hook.salt)

    def list(self) -> builtins.list[Webhook]:
        """Every webhook."""
        return self._store.list()

    def remove(self, webhook_id: str) -> None:
        """Delete a webhook and its delivery log."""
        self._store.remove(webhook_id)

    def test(self, webhook_id: str) -> Attempt:
        """POST a signed ``ping`` event to the webhook now; returns what it answered."""
        hook = self._store.get(webhook_id)
        ping = FeedEvent(0, "ping", hook.id, {"webhook": hook.id, "url": hook.url}, utcnow())
        return self._dispatcher.post(hook, f"ping-{utcnow().timestamp():.0f}", ping)

    def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[Delivery]:
        """A webhook's newest deliveries, newest first."""
        return self._store.deliveries(webhook_id, limit=limit)

    def dispatch(self) -> int:
        """Queue new events and send the deliveries that are due (the leader does it every
        second); returns how many were attempted."""
        return self._dispatcher.run_once()


class Monitoring:
    """Monitoring of the workspace's endpoints."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: Registry,
        endpoints: EndpointStore,
        queue: RunQueue,
    ) -> None:
        self._settings = settings
        self._mon = settings.monitoring
        self._endpoints = endpoints
        self._queue = queue
        self._own_db: Database | None = None
        store_db = db
        if self._mon.database_url is not None and self._mon.database_url != db.url:
            store_db = self._own_db = Database(
                self._mon.database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
            )
        self.collection = CollectionStore(store_db)
        if self._own_db is not None:
            self.collection.ensure_tables()
        self.feed = FeedStore(db)
        self.states = PolicyStateStore(db)
        self._reporter = Reporter(self.collection, registry)
        self._policies: dict[tuple[str, str], list[Policy]] = {}
        self.webhooks = Webhooks(
            WebhookStore(db), Dispatcher(WebhookStore(db), self.feed, settings.admin_key), settings
        )
        self._checks = Checks(
            self._reporter,
            endpoints,
            self.states,
            self.feed,
            self._mon,
            self.policies,
            self._retrain,
        )
        self._validate()

    # -- the data plane's side -----------------------------------------------------------

    def collector(self, *, writer_process: bool = False) -> Collector:
        """A collector writing to this workspace's collection table (start it to write).

        With ``writer_process`` (what a server uses) its batches are written by a process of
        their own, on another core than the serving process's interpreter lock; otherwise
        (and for an in-memory SQLite database, which no other process can open) by the
        collector's thread in this process.
        """
        db = self.collection.db
        sink: Sink = InProcess(self.collection)
        if writer_process and not db.in_memory:
            sink = WriterProcess(db.url, busy_timeout_s=self._settings.sqlite_busy_timeout_s)
        return Collector(
            sink,
            max_rows=self._mon.queue_rows,
            batch_rows=self._mon.batch_rows,
            flush_s=self._mon.flush_s,
        )

    @staticmethod
    def intake(collector: Collector) -> Intake:
        """The sockets entry scripts' ``ModelDataCollector`` sends to, feeding ``collector``."""
        return Intake(collector)

    # -- reports and feedback ------------------------------------------------------------

    def report(
        self,
        endpoint: str,
        *,
        window: str | float | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        timeline: bool = True,
    ) -> Report:
        """The report of ``endpoint`` over ``[since, until)`` (default: its declared
        window, ``1d`` unless declared, up to now); ``window`` is ``"1h"`` or seconds."""
        record = self._endpoints.get(endpoint)
        declaration = self._mon.endpoint(endpoint)
        seconds = declaration.window_s
        if window is not None:
            seconds = (
                window if isinstance(window, int | float) else parse_duration(window, "--window")
            )
        span = Span.trailing(float(seconds), since, until)
        if span.until <= span.since:
            raise ConfigError(f"--since ({span.since:%Y-%m-%d %H:%M}) must be before --until")
        return self._reporter.report(record, declaration, span, timeline=timeline)

    def feedback(self, endpoint: str, labels: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Store true values for scored rows (``request_id``, ``row``, ``label``); returns
        how many were stored and how many collected rows their requests have."""
        self._endpoints.get(endpoint)
        parsed = parse_feedback(list(labels))
        stored = self.collection.put_labels(endpoint, parsed, origin="api")
        ids = list(dict.fromkeys(rid for rid, _, _ in parsed))
        return {"stored": stored, "matched": self.collection.matched(endpoint, ids)}

    def read_labels(self, endpoint: str) -> int:
        """Read ``endpoint``'s declared label source now; returns the labels stored."""
        declared = self._mon.endpoint(endpoint).labels
        if declared is None:
            raise ConfigError(f"[endpoints.{endpoint}] declares no labels source")
        found = read_source(declared, self._settings.sources, self._settings.root)
        return self.collection.put_labels(endpoint, found, origin="source")

    # -- the leader's side ---------------------------------------------------------------

    def policies(self, record: EndpointRecord) -> builtins.list[Policy]:
        """The parsed policies of ``record``'s endpoint."""
        key = (record.name, record.target)
        if key not in self._policies:
            declaration = self._mon.endpoint(record.name)
            model = ModelRef.parse(record.target).name if record.kind == "model" else None
            self._policies[key] = [
                parse_policy(p, declaration, model=model, trainings=self._settings.trainings)
                for p in declaration.policies
            ]
        return self._policies[key]

    def check(self, now: datetime | None = None) -> builtins.list[Fired]:
        """Judge every declared endpoint's window now (the leader does it every
        ``[monitoring] check_every``); returns the breaches acted on."""
        return self._checks.run(now)

    def policy_states(self, endpoint: str | None = None) -> builtins.list[PolicyState]:
        """Where each policy stands."""
        return self.states.list(endpoint)

    def purge(self, now: datetime | None = None) -> int:
        """Delete collected rows older than ``[monitoring] keep_days``; returns how many."""
        cutoff = (now or utcnow()) - timedelta(days=self._mon.keep_days)
        return self.collection.purge(cutoff)

    def events(
        self, *, after: int = 0, limit: int = 100, kinds: Iterable[str] | None = None
    ) -> builtins.list[FeedEvent]:
        """The events feed after id ``after``, oldest first."""
        self.feed.sync()
        return self.feed.list(after=after, limit=limit, kinds=kinds)

    def periodic(self) -> builtins.list[Periodic]:
        """What the leading scheduler runs: checks, label sources, webhooks, retention."""
        tasks = [
            Periodic("webhooks", DISPATCH_EVERY_S, self.webhooks.dispatch),
            Periodic("collection retention", PURGE_EVERY_S, self.purge),
        ]
        if self._mon.endpoints:
            tasks.append(Periodic("monitoring checks", self._mon.check_every_s, self.check))
        for name, declaration in self._mon.endpoints.items():
            if declaration.labels is not None:
                read = functools.partial(self.read_labels, name)
                tasks.append(Periodic(f"labels of {name}", declaration.labels.every_s, read))
        return tasks

    def _retrain(self, training: str, reason: str, key: str) -> str:
        run, _ = self._queue.trigger(
            training, trigger="policy", idempotency_key=key, actor="monitoring", reason=reason
        )
        return run.id

    def _validate(self) -> None:
        """Parse every declared policy now, so that a mistake fails the workspace's opening."""
        for name, declaration in self._mon.endpoints.items():
            if not declaration.policies:
                continue
            try:
                record = self._endpoints.get(name)
            except EndpointNotFound:  # not created yet: its policies are parsed when it is
                continue
            self.policies(record)

    def close(self) -> None:
        """Release the separate monitoring database's connections."""
        if self._own_db is not None:
            self._own_db.dispose()
