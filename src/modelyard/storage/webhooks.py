"""Webhooks and their delivery log.

A webhook keeps a cursor into the feed: :meth:`WebhookStore.enqueue` turns the events after
it into one delivery each (unique per webhook and event) and moves the cursor, in one
transaction, so an event is queued once per webhook however often it is called. A
delivery is ``pending`` until its receiver answers 2xx (``delivered``) or it runs out of
attempts (``failed``); each attempt's status or error is kept.
"""

from __future__ import annotations

import builtins
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.errors import NotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.feed import FeedEvent, _event
from modelyard.storage.schema import utcnow

w = schema.webhooks
d = schema.webhook_deliveries
f = schema.feed
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Webhook:
    """A receiver URL, the event kinds it gets (all when empty) and its secret's salt."""

    id: str
    url: str
    events: tuple[str, ...]
    salt: str
    cursor: int
    created_at: datetime

    def wants(self, kind: str) -> bool:
        """True if events of ``kind`` go to this webhook."""
        return not self.events or kind in self.events


@dataclass(frozen=True)
class Delivery:
    """One event sent (or to be sent) to one webhook."""

    id: str
    webhook_id: str
    event_id: int
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _webhook(row: Any) -> Webhook:
    return Webhook(
        row.id, row.url, tuple(row.events or ()), row.salt, int(row.cursor), row.created_at
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.webhook_id,
        int(row.event_id),
        row.state,
        int(row.attempts),
        row.next_attempt_at,
        row.last_status,
        row.last_error,
        row.created_at,
        row.delivered_at,
    )


class WebhookStore:
    """Add, list and remove webhooks; queue, find and record deliveries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, url: str, events: Sequence[str] = ()) -> Webhook:
        """A new webhook; it gets the events that happen from now on."""
        webhook_id = uuid.uuid4().hex[:12]

        def insert(conn: Connection) -> None:
            cursor = conn.execute(sa.select(sa.func.max(f.c.id))).scalar() or 0
            conn.execute(
                sa.insert(w).values(
                    id=webhook_id,
                    url=url,
                    events=list(events),
                    salt=secrets.token_hex(16),
                    cursor=int(cursor),
                    created_at=utcnow(),
                )
            )

        self._db.write(insert)
        return self.get(webhook_id)

    def get(self, webhook_id: str) -> Webhook:
        """The webhook ``webhook_id`` (a unique prefix is enough); raises ``NotFound``."""
        found = self._db.read(
            lambda conn: conn.execute(
                sa.select(w).where(w.c.id.startswith(webhook_id, autoescape=True))
            ).all()
        )
        if len(found) != 1 or not webhook_id:
            raise NotFound(
                f"no webhook {webhook_id!r}: `modelyard webhooks list` shows them",
                webhook=webhook_id,
            )
        return _webhook(found[0])

    def list(self) -> builtins.list[Webhook]:
        """Every webhook, oldest first."""
        query = sa.select(w).order_by(w.c.created_at)
        return self._db.read(lambda conn: [_webhook(r) for r in conn.execute(query)])

    def remove(self, webhook_id: str) -> None:
        """Delete a webhook and its delivery log."""
        found = self.get(webhook_id)

        def delete(conn: Connection) -> None:
            conn.execute(sa.delete(d).where(d.c.webhook_id == found.id))
            conn.execute(sa.delete(w).where(w.c.id == found.id))

        self._db.write(delete)

    def enqueue(self, webhook: Webhook, limit: int = 500) -> int:
        """Queue a delivery of each feed event after the webhook's cursor that it wants,
        and move the cursor past them (one transaction). Returns how many were queued."""

        def write(conn: Connection) -> int:
            cursor = conn.execute(sa.select(w.c.cursor).where(w.c.id == webhook.id)).scalar()
            if cursor is None:
                return 0  # removed meanwhile
            events = [
                _event(r)
                for r in conn.execute(
                    sa.select(f).where(f.c.id > cursor).order_by(f.c.id).limit(limit)
                )
            ]
            if not events:
                return 0
            now = utcnow()
            wanted = [e for e in events if webhook.wants(e.kind)]
            if wanted:
                conn.execute(
                    sa.insert(d),
                    [
                        {
                            "id": uuid.uuid4().hex,
                            "webhook_id": webhook.id,
                            "event_id": e.id,
                            "state": PENDING,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for e in wanted
                    ],
                )
            conn.execute(
                sa.update(w)
                .where(w.c.id == webhook.id, w.c.cursor == cursor)
                .values(cursor=events[-1].id)
            )
            return len(wanted)

        return self._db.write(write)

    def due(self, limit: int = 50) -> builtins.list[tuple[Delivery, Webhook, FeedEvent]]:
        """Pending deliveries whose next attempt is due, oldest event first."""
        query = (
            sa.select(d)
            .where(d.c.state == PENDING, d.c.next_attempt_at <= utcnow())
            .order_by(d.c.event_id)
            .limit(limit)
        )

        def read(conn: Connection) -> builtins.list[tuple[Delivery, Webhook, FeedEvent]]:
            found = [_delivery(r) for r in conn.execute(query)]
            if not found:
                return []
            hooks = {
                r.id: _webhook(r)
                for r in conn.execute(sa.select(w).where(w.c.id.in_({x.webhook_id for x in found})))
            }
            events = {
                r.id: _event(r)
                for r in conn.execute(sa.select(f).where(f.c.id.in_({x.event_id for x in found})))
            }
            return [
                (x, hooks[x.webhook_id], events[x.event_id])
                for x in found
                if x.webhook_id in hooks and x.event_id in events
            ]

        return self._db.read(read)

    def record(
        self,
        delivery: Delivery,
        *,
        status: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        """Record an attempt: delivered on a 2xx ``status``; else pending until
        ``next_attempt_at``, or failed when that is None."""
        ok = status is not None and 200 <= status < 300
        state = DELIVERED if ok else (PENDING if next_attempt_at is not None else FAILED)
        now = utcnow()
        values: dict[str, Any] = {
            "state": state,
            "attempts": delivery.attempts + 1,
            "last_status": status,
            "last_error": (error or "")[:2000] or None,
            "next_attempt_at": next_attempt_at or now,
        }
        if ok:
            values["delivered_at"] = now
        self._db.write(
            lambda conn: conn.execute(sa.update(d).where(d.c.id == delivery.id).values(values))
        )
        query = sa.select(d).where(d.c.id == delivery.id)
        return self._db.read(lambda conn: _delivery(conn.execute(query).one()))

    def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[Delivery]:
        """A webhook's newest deliveries, newest first."""
        found = self.get(webhook_id)
        query = (
            sa.select(d)
            .where(d.c.webhook_id == found.id)
            .order_by(d.c.created_at.desc(), d.c.event_id.desc())
            .limit(limit)
        )
        return self._db.read(lambda conn: [_delivery(r) for r in conn.execute(query)])
