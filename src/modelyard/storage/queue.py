"""Rows of the job system: jobs claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL,
MariaDB) or under SQLite's write lock, leases for leader election, schedules with a
unique (training, fire time) guard. Pure persistence: ``jobs/`` holds the behaviour."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import JobNotFound, NotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

j, s, f, le = schema.jobs, schema.schedules, schema.schedule_fires, schema.leases
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)


@dataclass(frozen=True)
class Job:
    """One durable job."""

    id: str
    kind: str
    subject: str | None
    payload: Mapping[str, Any]
    state: str
    attempts: int
    max_attempts: int
    idempotency_key: str | None
    worker: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Mapping[str, Any] | None


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        subject=row["subject"],
        payload=dict(row["payload"] or {}),
        state=row["state"],
        attempts=int(row["attempts"]),
        max_attempts=int(row["max_attempts"]),
        idempotency_key=row["idempotency_key"],
        worker=row["worker"],
        heartbeat_at=row["heartbeat_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        result=dict(row["result"]) if row["result"] is not None else None,
    )


class JobStore:
    """Enqueue, claim, heartbeat and finish jobs; each call one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        subject: str | None = None,
        idempotency_key: str | None = None,
        max_attempts: int = 1,
    ) -> tuple[Job, bool]:
        """Queue a job; returns (job, True), or (the existing job, False) for a key seen before."""
        job_id = uuid.uuid4().hex

        def insert(conn: Connection) -> str:
            if idempotency_key is not None:
                found = conn.execute(
                    sa.select(j.c.id).where(j.c.idempotency_key == idempotency_key)
                ).scalar()
                if found is not None:
                    return str(found)
            conn.execute(
                sa.insert(j).values(
                    id=job_id,
                    kind=kind,
                    subject=subject,
                    payload=dict(payload),
                    state=QUEUED,
                    attempts=0,
                    max_attempts=max_attempts,
                    idempotency_key=idempotency_key,
                    created_at=utcnow(),
                )
            )
            return job_id

        # A concurrent insert of the same key fails on the unique index; the retry finds it.
        found_id = self._db.write(insert, retry_conflicts=True)
        return self.get(found_id), found_id == job_id

    def claim(self, worker: str, kinds: tuple[str, ...] | None = None) -> Job | None:
        """Take the oldest queued job (of ``kinds``), or None; no two workers get the same."""

        def take(conn: Connection) -> str | None:
            query = sa.select(j.c.id).where(j.c.state == QUEUED).order_by(j.c.created_at).limit(1)
            if kinds:
                query = query.where(j.c.kind.in_(kinds))
            found = conn.execute(query.with_for_update(skip_locked=True)).scalar()
            if found is None:
                return None
            now = utcnow()
            moved = conn.execute(
                sa.update(j)
                .where(j.c.id == found, j.c.state == QUEUED)
                .values(
                    state=RUNNING,
                    worker=worker[:128],
                    heartbeat_at=now,
                    started_at=now,
                    attempts=j.c.attempts + 1,
                )
            ).rowcount
            return str(found) if moved == 1 else None

        claimed = self._db.write(take)
        return self.get(claimed) if claimed else None

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """Refresh the job's heartbeat; False if it is no longer this worker's to run."""

        def beat(conn: Connection) -> bool:
            moved = conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.worker == worker[:128], j.c.state == RUNNING)
                .values(heartbeat_at=utcnow())
            ).rowcount
            return bool(moved == 1)

        return self._db.write(beat)

    def finish(
        self,
        job_id: str,
        worker: str,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """Mark this worker's job succeeded (or failed with ``error``); False if it was not."""

        def done(conn: Connection) -> bool:
            moved = conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.worker == worker[:128], j.c.state == RUNNING)
                .values(
                    state=FAILED if error else SUCCEEDED,
                    finished_at=utcnow(),
                    error=error,
                    result=dict(result) if result is not None else None,
                )
            ).rowcount
            return bool(moved == 1)

        return self._db.write(done)

    def release(self, job_id: str, worker: str) -> bool:
        """Give a running job back to the queue (graceful shutdown before it really started)."""

        def give_back(conn: Connection) -> bool:
            moved = conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.worker == worker[:128], j.c.state == RUNNING)
                .values(
                    state=QUEUED,
                    worker=None,
                    heartbeat_at=None,
                    started_at=None,
                    attempts=j.c.attempts - 1,
                )
            ).rowcount
            return bool(moved == 1)

        return self._db.write(give_back)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (a running one stops at its next heartbeat)."""

        def stop(conn: Connection) -> None:
            conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.state.in_((QUEUED, RUNNING)))
                .values(state=CANCELLED, finished_at=utcnow())
            )

        self.get(job_id)
        self._db.write(stop)
        return self.get(job_id)

    def reap(self, stale_after: timedelta) -> list[Job]:
        """Running jobs whose heartbeat is older than ``stale_after``: requeued while they
        have attempts left, failed otherwise. Returns the jobs it touched."""
        cutoff = utcnow() - stale_after

        def sweep(conn: Connection) -> list[str]:
            rows = conn.execute(
                sa.select(j.c.id, j.c.attempts, j.c.max_attempts, j.c.worker)
                .where(j.c.state == RUNNING, j.c.heartbeat_at < cutoff)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                retry = row.attempts < row.max_attempts
                conn.execute(
                    sa.update(j)
                    .where(j.c.id == row.id, j.c.state == RUNNING)
                    .values(
                        state=QUEUED if retry else FAILED,
                        worker=None if retry else row.worker,
                        finished_at=None if retry else utcnow(),
                        error=None if retry else f"worker {row.worker} stopped heartbeating",
                    )
                )
            return [str(row.id) for row in rows]

        return [self.get(job_id) for job_id in self._db.write(sweep)]

    def get(self, job_id: str) -> Job:
        """The job ``job_id``."""

        def read(conn: Connection) -> Job:
            row = conn.execute(sa.select(j).where(j.c.id == job_id)).mappings().first()
            if row is None:
                raise JobNotFound(f"no job {job_id!r}")
            return _job(row)

        return self._db.read(read)

    def active(self, kind: str, subject: str) -> list[Job]:
        """Queued or running jobs of ``kind`` about ``subject`` (e.g. one training)."""

        def read(conn: Connection) -> list[Job]:
            rows = conn.execute(
                sa.select(j).where(
                    j.c.kind == kind, j.c.subject == subject, j.c.state.in_((QUEUED, RUNNING))
                )
            ).mappings()
            return [_job(r) for r in rows]

        return self._db.read(read)


class LeaseStore:
    """Named leases: whoever holds an unexpired lease leads (one scheduler, say)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew ``name`` for ``ttl``; False while someone else holds it."""

        def take(conn: Connection) -> bool:
            now = utcnow()
            row = conn.execute(
                sa.select(le.c.holder, le.c.expires_at).where(le.c.name == name).with_for_update()
            ).first()
            if row is None:
                conn.execute(sa.insert(le).values(name=name, holder=holder, expires_at=now + ttl))
                return True
            if row.holder != holder and row.expires_at > now:
                return False
            conn.execute(
                sa.update(le).where(le.c.name == name).values(holder=holder, expires_at=now + ttl)
            )
            return True

        return self._db.write(take, retry_conflicts=True)

    def release(self, name: str, holder: str) -> None:
        """Give the lease up now (a clean shutdown)."""
        self._db.write(
            lambda conn: conn.execute(sa.delete(le).where(le.c.name == name, le.c.holder == holder))
        )

    def holder(self, name: str) -> str | None:
        """Who holds ``name`` now, if anyone."""

        def read(conn: Connection) -> str | None:
            row = conn.execute(sa.select(le).where(le.c.name == name)).mappings().first()
            if row is None or row["expires_at"] <= utcnow():
                return None
            return str(row["holder"])

        return self._db.read(read)


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
