"""Schedules of trainings and their fires, with a unique (training, fire time) guard so
that a fire is recorded, and its job queued, at most once however many schedulers run.
Pure persistence: ``jobs/`` holds the behaviour."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.errors import NotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

s, f = schema.schedules, schema.schedule_fires


@dataclass(frozen=True)
class Schedule:
    """When a training fires next."""

    training: str
    spec: str
    next_fire_at: datetime
    last_fire_at: datetime | None
    paused: bool


class ScheduleStore:
    """Schedules and their fires; a (training, fire time) pair is recorded at most once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, training: str, spec: str, next_fire_at: datetime) -> None:
        """Declare ``training``'s schedule; a changed spec restarts from ``next_fire_at``."""

        def write(conn: Connection) -> None:
            row = conn.execute(sa.select(s.c.spec).where(s.c.training == training)).first()
            if row is None:
                conn.execute(
                    sa.insert(s).values(
                        training=training,
                        spec=spec,
                        next_fire_at=next_fire_at,
                        paused=False,
                        updated_at=utcnow(),
                    )
                )
            elif row.spec != spec:
                conn.execute(
                    sa.update(s)
                    .where(s.c.training == training)
                    .values(spec=spec, next_fire_at=next_fire_at, updated_at=utcnow())
                )

        self._db.write(write, retry_conflicts=True)

    def remove(self, training: str) -> None:
        """Forget ``training``'s schedule."""
        self._db.write(lambda conn: conn.execute(sa.delete(s).where(s.c.training == training)))

    def list(self) -> list[Schedule]:
        """Every schedule by training."""

        def read(conn: Connection) -> list[Schedule]:
            rows = conn.execute(sa.select(s).order_by(s.c.training)).mappings()
            return [
                Schedule(
                    r["training"],
                    r["spec"],
                    r["next_fire_at"],
                    r["last_fire_at"],
                    bool(r["paused"]),
                )
                for r in rows
            ]

        return self._db.read(read)

    def set_paused(self, training: str, paused: bool) -> None:
        """Pause or resume ``training``'s schedule."""

        def write(conn: Connection) -> None:
            moved = conn.execute(
                sa.update(s)
                .where(s.c.training == training)
                .values(paused=paused, updated_at=utcnow())
            ).rowcount
            if moved != 1:
                raise NotFound(f"training {training!r} has no schedule")

        self._db.write(write)

    def record_fire(
        self,
        training: str,
        fire_at: datetime,
        next_fire_at: datetime,
        outcome: str,
        job_id: str | None = None,
    ) -> bool:
        """Record one fire and move the schedule on, in one transaction; False (and nothing
        written) if that fire was already recorded."""

        def write(conn: Connection) -> bool:
            seen = conn.execute(
                sa.select(f.c.outcome).where(f.c.training == training, f.c.fire_at == fire_at)
            ).first()
            if seen is not None:
                return False
            conn.execute(
                sa.insert(f).values(
                    training=training,
                    fire_at=fire_at,
                    job_id=job_id,
                    outcome=outcome,
                    created_at=utcnow(),
                )
            )
            conn.execute(
                sa.update(s)
                .where(s.c.training == training)
                .values(next_fire_at=next_fire_at, last_fire_at=fire_at, updated_at=utcnow())
            )
            return True

        return self._db.write(write, retry_conflicts=True)

    def fires(self, training: str) -> builtins.list[tuple[datetime, str, str | None]]:
        """Every recorded fire of ``training``: (fire time, outcome, job id), oldest first."""

        def read(conn: Connection) -> builtins.list[tuple[datetime, str, str | None]]:
            rows = conn.execute(
                sa.select(f.c.fire_at, f.c.outcome, f.c.job_id)
                .where(f.c.training == training)
                .order_by(f.c.fire_at)
            ).all()
            return [(r.fire_at, r.outcome, r.job_id) for r in rows]

        return self._db.read(read)
