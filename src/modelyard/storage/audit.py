"""The audit log: who did what that is not a model's own event (a model's promotions,
approvals and rejections are in its event log): endpoint keys regenerated, endpoints
created or deleted, schedules paused, users and tokens managed."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

a = schema.audit


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action."""

    id: int
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    created_at: datetime


class AuditLog:
    """Append and read the audit log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
    ) -> None:
        """Append one entry (``action`` like ``endpoint.key_regenerated``)."""
        row = {
            "actor": actor[:128],
            "action": action[:64],
            "subject": subject[:300],
            "details": dict(details or {}),
            "created_at": utcnow(),
        }
        self._db.write(lambda conn: conn.execute(sa.insert(a).values(**row)))

    def list(self, *, limit: int = 100, subject: str | None = None) -> builtins.list[AuditEntry]:
        """The newest entries first (only those about ``subject`` if given)."""
        query = sa.select(a).order_by(a.c.id.desc()).limit(limit)
        if subject is not None:
            query = query.where(a.c.subject == subject)
        rows = self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [
            AuditEntry(
                r["id"], r["actor"], r["action"], r["subject"], dict(r["details"]), r["created_at"]
            )
            for r in rows
        ]
