"""The events feed: registry, run and monitoring events in one ordered table, each once.

Monitoring writes its events (drift detected, policy fired) here directly. Registry events
(a version registered, an alias moved) and finished runs are written by their own stores
in their own transactions; :meth:`FeedStore.sync` copies the recent ones in. Every feed
row has a unique ``origin`` (``event:42``, ``run:ab12…``), so a copy made twice, or by two
processes at once, is stored once.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import EventKind, RunState

f = schema.feed
ev = schema.events
runs = schema.runs
RECENT_EVENTS = 500  # registry events looked at per sync (they commit nearly in id order)
RECENT_RUNS = timedelta(days=1)  # finished runs looked at per sync
_MOVES = {EventKind.PROMOTED.value, EventKind.ROLLED_BACK.value}
_FINAL = [RunState.SUCCEEDED.value, RunState.FAILED.value, RunState.CANCELLED.value]


@dataclass(frozen=True)
class FeedEvent:
    """One event of the feed."""

    id: int
    kind: str
    subject: str
    payload: Mapping[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the events API and webhooks send."""
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "created_at": self.created_at.isoformat(),
            "data": dict(self.payload),
        }


@dataclass(frozen=True)
class _Pending:
    kind: str
    subject: str
    origin: str
    payload: dict[str, Any]
    created_at: datetime


def _event(row: Any) -> FeedEvent:
    return FeedEvent(row.id, row.kind, row.subject, dict(row.payload or {}), row.created_at)


class FeedStore:
    """Append to and read the feed; copy registry events and finished runs into it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self, kind: str, subject: str, payload: Mapping[str, Any], *, origin: str
    ) -> FeedEvent | None:
        """Add an event; None if an event of that ``origin`` is already in the feed."""
        added = self._insert([_Pending(kind, subject, origin, dict(payload), utcnow())])
        return added[0] if added else None

    def list(
        self, *, after: int = 0, limit: int = 100, kinds: Iterable[str] | None = None
    ) -> builtins.list[FeedEvent]:
        """Events with an id above ``after``, oldest first (of ``kinds`` only, if given)."""
        query = sa.select(f).where(f.c.id > after).order_by(f.c.id).limit(limit)
        wanted = list(kinds or ())
        if wanted:
            query = query.where(f.c.kind.in_(wanted))
        return self._db.read(lambda conn: [_event(r) for r in conn.execute(query)])

    def last_id(self) -> int:
        """The id of the newest event (0 for an empty feed)."""
        value = self._db.read(lambda conn: conn.execute(sa.select(sa.func.max(f.c.id))).scalar())
        return int(value or 0)

    def sync(self) -> int:
        """Copy recent registry events (version registered, alias moved) and finished runs
        that the feed lacks; returns how many were added."""

        def recent(conn: Connection) -> builtins.list[_Pending]:
            newest = conn.execute(sa.select(sa.func.max(ev.c.id))).scalar() or 0
            rows = conn.execute(
                sa.select(ev, schema.models.c.name.label("model"))
                .join(schema.models, schema.models.c.id == ev.c.model_id)
                .where(ev.c.id > newest - RECENT_EVENTS)
                .where(ev.c.kind.in_([EventKind.VERSION_REGISTERED.value, *_MOVES]))
            ).mappings()
            found = [_registry_event(r) for r in rows]
            finished = conn.execute(
                sa.select(runs).where(
                    runs.c.state.in_(_FINAL), runs.c.finished_at >= utcnow() - RECENT_RUNS
                )
            ).mappings()
            found += [_run_event(r) for r in finished]
            return found

        candidates = self._db.read(recent)
        if not candidates:
            return 0
        return len(self._insert(sorted(candidates, key=lambda p: p.created_at)))

    def _insert(self, pending: builtins.list[_Pending]) -> builtins.list[FeedEvent]:
        def write(conn: Connection) -> builtins.list[FeedEvent]:
            origins = [p.origin for p in pending]
            known: set[str] = set()
            for start in range(0, len(origins), 500):
                chunk = origins[start : start + 500]
                known |= set(
                    conn.execute(sa.select(f.c.origin).where(f.c.origin.in_(chunk))).scalars()
                )
            added: builtins.list[FeedEvent] = []
            for item in pending:
                if item.origin in known:
                    continue
                result = conn.execute(
                    sa.insert(f).values(
                        kind=item.kind,
                        subject=item.subject[:200],
                        origin=item.origin,
                        payload=item.payload,
                        created_at=item.created_at,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                added.append(
                    FeedEvent(
                        int(key[0]), item.kind, item.subject[:200], item.payload, item.created_at
                    )
                )
            return added

        return self._db.write(write, retry_conflicts=True)


def _registry_event(row: Any) -> _Pending:
    moved = row["kind"] in _MOVES
    payload: dict[str, Any] = {
        "model": row["model"],
        "version": row["to_version"],
        "actor": row["actor"],
        "reason": row["reason"] or "",
    }
    if moved:
        payload.update(
            alias=row["alias"],
            from_version=row["from_version"],
            to_version=row["to_version"],
            how=row["kind"],
        )
    kind = "alias_moved" if moved else "version_registered"
    subject = f"{row['model']}@{row['alias']}" if moved else f"{row['model']}:{row['to_version']}"
    return _Pending(kind, subject, f"event:{row['id']}", payload, row["created_at"])


def _run_event(row: Any) -> _Pending:
    payload = {
        "run_id": row["id"],
        "training": row["training"],
        "model": row["model"],
        "state": row["state"],
        "trigger": row["trigger"],
        "reason": row["reason"],
        "version": row["version"],
        "metrics": dict(row["metrics"] or {}),
        "decision": row["decision"],
        "error": row["error"],
    }
    return _Pending(
        "run_finished", row["training"], f"run:{row['id']}", payload, row["finished_at"]
    )
