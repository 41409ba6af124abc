"""Where each monitoring policy of each endpoint stands, so that a breach acts once.

A check that finds a policy breached calls :meth:`PolicyStateStore.breach`: True only for
the call that turned it from fine to breached (a compare-and-swap), so however many checks
see the same breach, and whichever process makes them, one acts. :meth:`clear` arms it
again once the policy holds.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage import schema
from modelyard.storage.engine import Database

p = schema.policy_states


@dataclass(frozen=True)
class PolicyState:
    """A policy's last verdict: breached since when, on what value, and the run it started."""

    endpoint: str
    policy: str
    breached: bool
    since: datetime | None
    value: float | None
    reason: str | None
    run_id: str | None
    checked_at: datetime


def _state(row: Any) -> PolicyState:
    return PolicyState(
        row.endpoint,
        row.policy,
        bool(row.breached),
        row.since,
        row.value,
        row.reason,
        row.run_id,
        row.checked_at,
    )


class PolicyStateStore:
    """Read and move policy states."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, endpoint: str | None = None) -> builtins.list[PolicyState]:
        """Every stored state (of ``endpoint`` only, if given)."""
        query = sa.select(p).order_by(p.c.endpoint, p.c.policy)
        if endpoint is not None:
            query = query.where(p.c.endpoint == endpoint)
        return self._db.read(lambda conn: [_state(r) for r in conn.execute(query)])

    def get(self, endpoint: str, policy: str) -> PolicyState | None:
        """The state of one policy, None before its first check."""
        query = sa.select(p).where(p.c.endpoint == endpoint, p.c.policy == policy)
        row = self._db.read(lambda conn: conn.execute(query).first())
        return _state(row) if row is not None else None

    def breach(
        self, endpoint: str, policy: str, *, value: float | None, reason: str, at: datetime
    ) -> bool:
        """Mark the policy breached; True only if it was not breached before this call."""
        key = (p.c.endpoint == endpoint, p.c.policy == policy)

        def write(conn: Connection) -> bool:
            exists = conn.execute(sa.select(p.c.breached).where(*key)).first()
            values = {"value": value, "checked_at": at}
            if exists is None:
                conn.execute(
                    sa.insert(p).values(
                        endpoint=endpoint,
                        policy=policy,
                        breached=True,
                        since=at,
                        reason=reason,
                        **values,
                    )
                )
                return True
            flipped = conn.execute(
                sa.update(p)
                .where(*key, p.c.breached == sa.false())
                .values(breached=True, since=at, reason=reason, run_id=None, **values)
            ).rowcount
            if not flipped:
                conn.execute(sa.update(p).where(*key).values(**values))
            return bool(flipped)

        return self._db.write(write, retry_conflicts=True)

    def clear(self, endpoint: str, policy: str, *, value: float | None, at: datetime) -> None:
        """The policy holds: record the value, and let its next breach act again."""

        def write(conn: Connection) -> None:
            moved = conn.execute(
                sa.update(p)
                .where(p.c.endpoint == endpoint, p.c.policy == policy)
                .values(breached=False, value=value, checked_at=at)
            ).rowcount
            if not moved:
                conn.execute(
                    sa.insert(p).values(
                        endpoint=endpoint, policy=policy, breached=False, value=value, checked_at=at
                    )
                )

        self._db.write(write, retry_conflicts=True)

    def set_run(self, endpoint: str, policy: str, run_id: str) -> None:
        """Record the run a breach started."""
        self._db.write(
            lambda conn: conn.execute(
                sa.update(p)
                .where(p.c.endpoint == endpoint, p.c.policy == policy)
                .values(run_id=run_id)
            )
        )
