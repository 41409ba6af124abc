"""Training runs as rows: created, started, timed stage by stage, finished or failed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.config.secret import redact_url
from modelyard.errors import RunNotFound
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import Decision, RunState

r = schema.runs
_MAX_LOG = 1_000_000  # characters kept of a run's captured output


@dataclass(frozen=True)
class Run:
    """One training run."""

    id: str
    training: str
    model: str
    state: RunState
    trigger: str
    actor: str
    params: Mapping[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stages: tuple[Mapping[str, Any], ...]
    rows: int | None
    metrics: Mapping[str, float]
    version: int | None
    decision: Decision | None
    logs: str
    error: str | None
    trials: tuple[Mapping[str, Any], ...] = ()  # a search's trials, in order
    reason: str | None = None  # why it was started, when not by hand (a policy's breach)

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish, if both happened."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _run(row: RowMapping) -> Run:
    return Run(
        id=row["id"],
        training=row["training"],
        model=row["model"],
        state=RunState(row["state"]),
        trigger=row["trigger"],
        actor=row["actor"],
        params=dict(row["params"] or {}),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        stages=tuple(row["stages"] or ()),
        rows=row["rows"],
        metrics=dict(row["metrics"] or {}),
        version=row["version"],
        decision=Decision.from_dict(row["decision"]) if row["decision"] else None,
        logs=row.get("logs") or "",
        error=row["error"],
        trials=tuple(row["trials"] or ()),
        reason=row.get("reason"),
    )


class RunStore:
    """Create and update run rows; each call is one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        training: str,
        model: str,
        *,
        trigger: str,
        actor: str,
        params: Mapping[str, Any],
        run_id: str | None = None,
        reason: str | None = None,
    ) -> Run:
        """Record a queued run and return it; with ``run_id``, the run of that id if it
        exists already (a queued job's run is created by whoever comes first). ``reason``
        says why it was started (a monitoring policy's breach)."""
        run_id = run_id or uuid.uuid4().hex

        def insert(conn: Connection) -> None:
            if conn.execute(sa.select(r.c.id).where(r.c.id == run_id)).first() is not None:
                return
            conn.execute(
                sa.insert(r).values(
                    id=run_id,
                    training=training,
                    model=model,
                    state=RunState.QUEUED.value,
                    trigger=trigger,
                    actor=actor[:128],
                    params=dict(params),
                    created_at=utcnow(),
                    stages=[],
                    metrics={},
                    logs="",
                    reason=reason,
                )
            )

        self._db.write(insert, retry_conflicts=True)
        return self.get(run_id)

    def _update(self, run_id: str, **values: Any) -> None:
        for field in ("error", "logs"):  # a source URL's credentials are never stored
            if isinstance(values.get(field), str):
                values[field] = redact_url(values[field])

        def update(conn: Connection) -> None:
            conn.execute(sa.update(r).where(r.c.id == run_id).values(**values))

        self._db.write(update)

    def start(self, run_id: str) -> None:
        """Mark the run running."""
        self._update(run_id, state=RunState.RUNNING.value, started_at=utcnow())

    def stages(
        self,
        run_id: str,
        stages: list[dict[str, Any]],
        rows: int | None,
        trials: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Save the stages done so far (name, seconds, detail), the row count and the
        trials of a search (number, params, metrics, seconds, error, worker, best)."""
        self._update(run_id, stages=stages, rows=rows, trials=[dict(t) for t in trials])

    def progress(
        self, run_id: str, stages: list[dict[str, Any]], rows: int | None, logs: str
    ) -> None:
        """Save a running run's stages and logs so far (readers follow it live)."""
        self._update(run_id, stages=stages, rows=rows, logs=logs[-_MAX_LOG:])

    def succeed(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, float],
        version: int | None,
        decision: Decision | None,
        logs: str,
    ) -> None:
        """Mark the run succeeded with what it produced."""
        self._update(
            run_id,
            state=RunState.SUCCEEDED.value,
            finished_at=utcnow(),
            metrics=dict(metrics),
            version=version,
            decision=decision.to_dict() if decision else None,
            logs=logs[-_MAX_LOG:],
        )

    def fail(self, run_id: str, *, error: str, logs: str, metrics: Mapping[str, float]) -> None:
        """Mark the run failed with its error and whatever it printed."""
        self._update(
            run_id,
            state=RunState.FAILED.value,
            finished_at=utcnow(),
            error=error,
            logs=logs[-_MAX_LOG:],
            metrics=dict(metrics),
        )

    def cancel(self, run_id: str, *, logs: str | None = None) -> bool:
        """Mark a queued or running run cancelled; False if it had already ended."""

        def update(conn: Connection) -> bool:
            values: dict[str, Any] = {"state": RunState.CANCELLED.value, "finished_at": utcnow()}
            if logs is not None:
                values["logs"] = logs[-_MAX_LOG:]
            moved = conn.execute(
                sa.update(r)
                .where(
                    r.c.id == run_id,
                    r.c.state.in_((RunState.QUEUED.value, RunState.RUNNING.value)),
                )
                .values(**values)
            ).rowcount
            return bool(moved == 1)

        return self._db.write(update)

    def fail_unfinished(self, run_id: str, error: str) -> bool:
        """Fail a run left queued or running by a worker that died; False if it had ended."""

        def update(conn: Connection) -> bool:
            moved = conn.execute(
                sa.update(r)
                .where(
                    r.c.id == run_id,
                    r.c.state.in_((RunState.QUEUED.value, RunState.RUNNING.value)),
                )
                .values(state=RunState.FAILED.value, finished_at=utcnow(), error=redact_url(error))
            ).rowcount
            return bool(moved == 1)

        return self._db.write(update)

    def get(self, run_id: str) -> Run:
        """The run with this id (a unique prefix of at least 6 characters works too)."""

        def read(conn: Connection) -> Run:
            row = conn.execute(sa.select(r).where(r.c.id == run_id)).mappings().first()
            if row is None and len(run_id) >= 6:
                found = (
                    conn.execute(sa.select(r).where(r.c.id.like(f"{run_id}%")).limit(2))
                    .mappings()
                    .all()
                )
                row = found[0] if len(found) == 1 else None
            if row is None:
                raise RunNotFound(f"no run {run_id!r}: `modelyard runs list` shows the runs")
            return _run(row)

        return self._db.read(read)

    def list(self, training: str | None = None, *, limit: int = 50, logs: bool = True) -> list[Run]:
        """The newest runs first, optionally of one training; ``logs=False`` leaves each
        run's logs out (empty), which lists stay fast without."""

        def read(conn: Connection) -> list[Run]:
            columns = [c for c in r.c if logs or c.name != "logs"]
            query = sa.select(*columns).order_by(r.c.created_at.desc()).limit(limit)
            if training is not None:
                query = query.where(r.c.training == training)
            return [_run(row) for row in conn.execute(query).mappings()]

        return self._db.read(read)
