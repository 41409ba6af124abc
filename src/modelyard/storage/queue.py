"""Rows of the job system: jobs claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL,
MariaDB) or under SQLite's write lock, leases for leader election, schedules with a
unique (training, fire time) guard. Pure persistence: ``jobs/`` holds the behaviour.

Leases live in ``storage.leases`` and schedules in ``storage.schedules``; both are
re-exported here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.config.secret import redact_url
from modelyard.errors import JobNotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow

j = schema.jobs
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
        worker: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; returns (job, True), or (the existing job, False) for a key seen before.
        Given ``worker``, the job is written already running, held by that worker (a job run
        where it is submitted: no other worker can claim it first)."""
        job_id = uuid.uuid4().hex
        now = utcnow()
        held = (
            {"state": RUNNING, "worker": worker[:128], "heartbeat_at": now, "started_at": now}
            if worker is not None
            else {"state": QUEUED}
        )

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
                    attempts=0 if worker is None else 1,
                    max_attempts=max_attempts,
                    idempotency_key=idempotency_key,
                    created_at=now,
                    **held,
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
                    error=redact_url(error) if error else error,
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

    def reap(self, stale_after: timedelta, *, beating_only: bool = False) -> list[Job]:
        """Running jobs whose heartbeat is older than ``stale_after`` (or than three of its
        own beats, for a job that says how often it beats: ``payload["heartbeat_s"]``, if
        longer): requeued while they have attempts left, failed otherwise. With
        ``beating_only``, only jobs that say how often they beat. Returns the jobs it
        touched."""
        now = utcnow()
        cutoff = now - stale_after

        def sweep(conn: Connection) -> list[str]:
            rows = conn.execute(
                sa.select(j.c.id, j.c.attempts, j.c.max_attempts, j.c.worker, j.c.payload)
                .where(j.c.state == RUNNING, j.c.heartbeat_at < cutoff)
                .with_for_update(skip_locked=True)
            ).all()
            stale = []
            for row in rows:
                beat_s = (row.payload or {}).get("heartbeat_s")
                if beat_s is None and beating_only:
                    continue
                if beat_s is not None and 3 * float(beat_s) > stale_after.total_seconds():
                    mine = now - timedelta(seconds=3 * float(beat_s))
                    alive = conn.execute(
                        sa.select(j.c.id).where(j.c.id == row.id, j.c.heartbeat_at >= mine)
                    ).first()
                    if alive is not None:
                        continue
                stale.append(row)
            for row in stale:
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
            return [str(row.id) for row in stale]

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
