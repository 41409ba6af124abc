"""Rows of batch scoring jobs: the ``jobs`` row (kind ``batch``, state, heartbeat) and its
``batch_jobs`` row (the pinned version, the spec, progress) written in one transaction;
the chunk files a job wrote (``batch_chunks``, the watermark of a job writing files).

Pure persistence: ``modelyard.batch`` holds the behaviour.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import Conflict, JobNotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.queue import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED
from modelyard.storage.schema import utcnow

j = schema.jobs
b = schema.batch_jobs
c = schema.batch_chunks
KIND = "batch"
HELD = "held"  # submitted, waiting for a start (Azure classic BES: NotStarted)
SKIPPED_KEPT = 1000  # skipped rows listed on the job, at most (all are counted)


@dataclass(frozen=True)
class BatchRow:
    """One batch job as stored: its job state and its batch record."""

    id: str
    state: str
    model: str
    version: int
    spec: Mapping[str, Any]
    rows_total: int | None
    rows_done: int
    rows_skipped: int
    skipped: list[dict[str, Any]]
    worker: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Mapping[str, Any] | None


@dataclass(frozen=True)
class Chunk:
    """One chunk file a job wrote and renamed into place."""

    part: int
    seq: int
    last_key: Any
    rows: int
    skipped: int
    path: str


def _row(row: RowMapping) -> BatchRow:
    return BatchRow(
        id=row["id"],
        state=row["state"],
        model=row["model"],
        version=int(row["version"]),
        spec=dict(row["spec"] or {}),
        rows_total=None if row["rows_total"] is None else int(row["rows_total"]),
        rows_done=int(row["rows_done"]),
        rows_skipped=int(row["rows_skipped"]),
        skipped=list(row["skipped"] or []),
        worker=row["worker"],
        heartbeat_at=row["heartbeat_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        result=dict(row["result"]) if row["result"] is not None else None,
    )


_COLUMNS = (
    j.c.id, j.c.state, j.c.worker, j.c.heartbeat_at, j.c.created_at, j.c.started_at,
    j.c.finished_at, j.c.error, j.c.result, b.c.model, b.c.version, b.c.spec, b.c.rows_total,
    b.c.rows_done, b.c.rows_skipped, b.c.skipped,
)  # fmt: skip


class BatchStore:
    """Create, take over, follow and list batch jobs; each call one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        job_id: str,
        model: str,
        version: int,
        spec: Mapping[str, Any],
        *,
        held: bool = False,
    ) -> tuple[BatchRow, bool]:
        """Queue batch job ``job_id`` (its ``jobs`` row and its batch row at once), or hold
        it until :meth:`release` if ``held``; returns (job, True), or (the job already
        stored under that id, False)."""

        def insert(conn: Connection) -> bool:
            if conn.execute(sa.select(j.c.id).where(j.c.id == job_id)).scalar() is not None:
                return False
            now = utcnow()
            conn.execute(
                sa.insert(j).values(
                    id=job_id, kind=KIND, subject=model, payload={"job_id": job_id},
                    state=HELD if held else QUEUED, attempts=0, max_attempts=1,
                    created_at=now,
                )
            )  # fmt: skip
            conn.execute(
                sa.insert(b).values(
                    job_id=job_id, model=model, version=version, spec=dict(spec),
                    rows_total=None, rows_done=0, rows_skipped=0, skipped=[],
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            return True

        created = self._db.write(insert, retry_conflicts=True)
        return self.get(job_id), created

    def take(self, job_id: str, worker: str, stale_after: timedelta) -> BatchRow:
        """Make ``worker`` the runner of ``job_id``: a queued job, a failed one (run again
        from its watermark), or a running one whose runner stopped heartbeating for
        ``stale_after``. Raises Conflict for a job another runner is running, a
        cancelled one, or one that succeeded."""

        def grab(conn: Connection) -> None:
            row = conn.execute(
                sa.select(j.c.state, j.c.worker, j.c.heartbeat_at)
                .where(j.c.id == job_id, j.c.kind == KIND)
                .with_for_update()
            ).first()
            if row is None:
                raise JobNotFound(f"no batch job {job_id!r}: `modelyard batch list` shows them")
            now = utcnow()
            if row.state == RUNNING and row.heartbeat_at and row.heartbeat_at > now - stale_after:
                raise Conflict(
                    f"batch job {job_id} is running on {row.worker} (heartbeat "
                    f"{(now - row.heartbeat_at).total_seconds():.0f} s ago): wait for it, "
                    "or cancel it with `modelyard batch cancel`"
                )
            if row.state in (CANCELLED, SUCCEEDED):
                raise Conflict(f"batch job {job_id} has {row.state}: nothing left to run")
            conn.execute(
                sa.update(j)
                .where(j.c.id == job_id)
                .values(
                    state=RUNNING, worker=worker[:128], heartbeat_at=now, started_at=now,
                    finished_at=None, error=None, attempts=j.c.attempts + 1,
                )
            )  # fmt: skip

        self._db.write(grab)
        return self.get(job_id)

    def progress(
        self, job_id: str, *, rows_done: int, rows_skipped: int, rows_total: int | None
    ) -> None:
        """Set how far the job got (from its watermarks, when a run begins)."""

        def save(conn: Connection) -> None:
            conn.execute(
                sa.update(b)
                .where(b.c.job_id == job_id)
                .values(
                    rows_done=rows_done,
                    rows_skipped=rows_skipped,
                    rows_total=rows_total,
                    updated_at=utcnow(),
                )
            )

        self._db.write(save)

    def advance(self, job_id: str, rows: int, skipped: Sequence[Mapping[str, Any]] = ()) -> None:
        """Add a committed chunk's ``rows`` scored and ``skipped`` rows to the job's progress
        (one statement: partitions running at once each add theirs)."""

        def save(conn: Connection) -> None:
            values: dict[str, Any] = {
                "rows_done": b.c.rows_done + rows,
                "rows_skipped": b.c.rows_skipped + len(skipped),
                "updated_at": utcnow(),
            }
            if skipped:
                listed = conn.execute(
                    sa.select(b.c.skipped).where(b.c.job_id == job_id).with_for_update()
                ).scalar()
                kept = list(listed or [])
                if len(kept) < SKIPPED_KEPT:
                    values["skipped"] = (kept + [dict(s) for s in skipped])[:SKIPPED_KEPT]
            conn.execute(sa.update(b).where(b.c.job_id == job_id).values(**values))

        self._db.write(save)

    def release(self, job_id: str) -> BatchRow:
        """Queue a held job for a worker (a job already released is left as it is)."""

        def go(conn: Connection) -> None:
            conn.execute(
                sa.update(j).where(j.c.id == job_id, j.c.state == HELD).values(state=QUEUED)
            )

        self.get(job_id)
        self._db.write(go)
        return self.get(job_id)

    def cancel(self, job_id: str) -> BatchRow:
        """Cancel a held, queued or running job (a running one stops before its next
        chunk); Conflict if it has ended."""

        def stop(conn: Connection) -> int:
            return int(
                conn.execute(
                    sa.update(j)
                    .where(j.c.id == job_id, j.c.state.in_((HELD, QUEUED, RUNNING)))
                    .values(state=CANCELLED, finished_at=utcnow())
                ).rowcount
            )

        row = self.get(job_id)
        if not self._db.write(stop):
            raise Conflict(f"batch job {job_id} has ended ({row.state}): nothing to cancel")
        return self.get(job_id)

    def set_ranges(self, job_id: str, ranges: Sequence[Sequence[Any]]) -> None:
        """Store the partitions' key ranges on the job (fixed at its first run)."""

        def save(conn: Connection) -> None:
            spec = conn.execute(sa.select(b.c.spec).where(b.c.job_id == job_id)).scalar()
            updated = {**dict(spec or {}), "ranges": [list(r) for r in ranges]}
            conn.execute(sa.update(b).where(b.c.job_id == job_id).values(spec=updated))

        self._db.write(save)

    def note_runner(self, job_id: str, part: int, where: str) -> None:
        """Record where partition ``part`` runs now (``host:pid``), shown with the job."""

        def save(conn: Connection) -> None:
            spec = conn.execute(
                sa.select(b.c.spec).where(b.c.job_id == job_id).with_for_update()
            ).scalar()
            current = dict(spec or {})
            runners = {**dict(current.get("runners") or {}), str(part): where}
            conn.execute(
                sa.update(b)
                .where(b.c.job_id == job_id)
                .values(spec={**current, "runners": runners})
            )

        self._db.write(save)

    def get(self, job_id: str) -> BatchRow:
        """The batch job ``job_id``; JobNotFound if there is none."""

        def read(conn: Connection) -> BatchRow:
            row = (
                conn.execute(
                    sa.select(*_COLUMNS).join(b, b.c.job_id == j.c.id).where(j.c.id == job_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise JobNotFound(f"no batch job {job_id!r}: `modelyard batch list` shows them")
            return _row(row)

        return self._db.read(read)

    def list(self, *, limit: int = 50) -> list[BatchRow]:
        """The newest batch jobs first."""

        def read(conn: Connection) -> list[BatchRow]:
            rows = conn.execute(
                sa.select(*_COLUMNS)
                .join(b, b.c.job_id == j.c.id)
                .order_by(j.c.created_at.desc())
                .limit(limit)
            ).mappings()
            return [_row(r) for r in rows]

        return self._db.read(read)

    def fail(self, job_id: str, worker: str, error: str) -> None:
        """Mark the job failed with ``error`` while this worker runs it."""

        def done(conn: Connection) -> None:
            conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.worker == worker[:128], j.c.state == RUNNING)
                .values(state=FAILED, finished_at=utcnow(), error=error)
            )

        self._db.write(done)

    # -- chunk files -------------------------------------------------------------------

    def record_chunk(self, job_id: str, chunk: Chunk) -> None:
        """Record a chunk file renamed into place (the watermark of its partition)."""

        def insert(conn: Connection) -> None:
            conn.execute(
                sa.insert(c).values(
                    job_id=job_id, part=chunk.part, seq=chunk.seq, last_key=chunk.last_key,
                    rows=chunk.rows, skipped=chunk.skipped, path=chunk.path, written_at=utcnow(),
                )
            )  # fmt: skip

        self._db.write(insert)

    def chunks(self, job_id: str, part: int | None = None) -> builtins.list[Chunk]:
        """The chunk files recorded for a job (or one partition), in order."""

        def read(conn: Connection) -> builtins.list[Chunk]:
            query = sa.select(c).where(c.c.job_id == job_id).order_by(c.c.part, c.c.seq)
            if part is not None:
                query = query.where(c.c.part == part)
            return [
                Chunk(r.part, r.seq, r.last_key, int(r.rows), int(r.skipped), r.path)
                for r in conn.execute(query)
            ]

        return self._db.read(read)
