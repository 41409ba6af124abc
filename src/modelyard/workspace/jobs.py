"""Queued runs, workers and the scheduler, wired to the training runner.

A queued run and its job share one id: the job is written first (with the caller's
idempotency key), then the run row; a worker that claims the job before the row exists
creates it with that id. So ``POST …/runs`` can answer 202 with the run id at once.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from typing import Any

from modelyard.config.settings import Settings
from modelyard.errors import (
    ConfigError,
    InternalError,
    JobNotFound,
    ModelyardError,
    RunCancelled,
    RunNotFound,
)
from modelyard.jobs.schedule import next_fire, parse_schedule
from modelyard.jobs.scheduler import Periodic, Scheduler, fire_key
from modelyard.jobs.worker import Handler, JobContext, Worker
from modelyard.storage.audit import AuditLog
from modelyard.storage.engine import Database
from modelyard.storage.leases import LeaseStore
from modelyard.storage.queue import Job, JobStore
from modelyard.storage.runs import Run, RunStore
from modelyard.storage.schedules import Schedule, ScheduleStore
from modelyard.storage.schema import utcnow
from modelyard.training.journal import OnStage
from modelyard.training.runner import TrainingRunner
from modelyard.types import RunState

TRAIN = "train"
HERE_HEARTBEAT_S = 2.0  # how often a run in its own process (``modelyard train``) beats


class RunQueue:
    """Queue training runs, cancel them, and build the workers and scheduler that run them."""

    def __init__(
        self, settings: Settings, db: Database, runner: TrainingRunner, runs: RunStore
    ) -> None:
        self._settings = settings
        self._audit = AuditLog(db)
        self._runner = runner
        self._runs = runs
        self.jobs = JobStore(db)
        self.schedules = ScheduleStore(db)
        self.leases = LeaseStore(db)
        self.periodic: list[Periodic] = []  # run by the leading scheduler (monitoring's)
        self.handlers: dict[str, Handler] = {}  # other job kinds a worker runs (batch's)

    def trigger(
        self,
        training: str,
        *,
        params: Mapping[str, Any] | None = None,
        trigger: str = "api",
        idempotency_key: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> tuple[Run, bool]:
        """Queue a run of ``training``; returns (run, created). The same idempotency key
        returns the run it started the first time. ``reason`` is recorded on the run."""
        spec = self._runner.spec(training)  # an unknown training fails here, not in a worker
        who = self._runner.who(actor)
        payload: dict[str, Any] = {
            "training": training,
            "params": dict(params or {}),
            "trigger": trigger,
            "actor": who,
        }
        if reason:
            payload["reason"] = reason
        job, created = self.jobs.enqueue(
            TRAIN, payload, subject=training, idempotency_key=idempotency_key
        )
        run = self._runs.create(
            training,
            spec.model,
            trigger=str(job.payload.get("trigger", trigger)),
            actor=str(job.payload.get("actor", who)),
            params=dict(job.payload.get("params", {})),
            run_id=job.id,
            reason=job.payload.get("reason"),
        )
        return run, created

    def cancel(self, run_id: str) -> Run:
        """Cancel a queued run now, or a running one at its next stage."""
        run = self._runs.get(run_id)
        with contextlib.suppress(JobNotFound):  # a run made by `modelyard train` has no job
            self.jobs.cancel(run.id)
        if run.state is RunState.QUEUED:
            self._runs.cancel(run.id)
        return self._runs.get(run.id)

    def run_here(
        self,
        training: str,
        *,
        params: Mapping[str, Any] | None = None,
        trigger: str = "manual",
        on_stage: OnStage | None = None,
    ) -> Run:
        """Run ``training`` in this process and return the run as it ended, as a job held by
        this process that heartbeats (saying how often on the job): if the process dies
        (killed, machine lost), the next run here or any worker fails it as
        ``worker_lost`` rather than leaving it running forever; runs left so by dead
        processes are failed first. Ctrl+C fails the run (``interrupted``) and re-raises."""
        if training not in self._runner.names():
            self._runner.spec(training)  # raises the helpful ConfigError
        worker = self.worker(heartbeat_s=HERE_HEARTBEAT_S)
        worker.reap(beating_only=True)  # never a worker's job: its beat is not known here
        payload = {
            "training": training,
            "params": dict(params or {}),
            "trigger": trigger,
            "actor": self._runner.who(None),
            "heartbeat_s": HERE_HEARTBEAT_S,
        }
        job, _ = self.jobs.enqueue(TRAIN, payload, subject=training, worker=worker.name)
        try:
            ended = worker.run_claimed(job, lambda job, ctx: self.handle(job, ctx, on_stage))
        except BaseException:  # Ctrl+C, SystemExit: the run ends here, said so
            why = "interrupted: the process was stopped during the run"
            with contextlib.suppress(ModelyardError):
                self.jobs.finish(job.id, worker.name, error=why)
                self._runs.fail_unfinished(job.id, why)
            raise
        try:
            run = self._runs.get(job.id)
        except RunNotFound:  # it failed before its run was recorded: say why
            raise InternalError(f"training {training} could not start: {ended.error}") from None
        if run.state in (RunState.QUEUED, RunState.RUNNING):  # the job failed around it
            self._runs.fail_unfinished(run.id, ended.error or "the run did not finish")
            run = self._runs.get(run.id)
        return run

    def handle(
        self, job: Job, context: JobContext, progress: OnStage | None = None
    ) -> Mapping[str, Any]:
        """Run the training a job names (the ``train`` job handler); ``progress`` hears
        each stage."""

        def on_stage(stage: str, detail: str) -> None:
            if progress is not None:
                progress(stage, detail)
            if stage != "done" and context.cancelled.is_set():  # "done": it has ended
                raise RunCancelled(f"run {job.id[:8]} was cancelled")

        run = self._runner.run(
            str(job.payload["training"]),
            params=dict(job.payload.get("params", {})),
            trigger=str(job.payload.get("trigger", "queue")),
            actor=job.payload.get("actor"),  # who triggered it authors the version
            run_id=job.id,
            on_stage=on_stage,
            reason=job.payload.get("reason"),
        )
        result: dict[str, Any] = {
            "run_id": run.id,
            "state": run.state.value,
            "version": run.version,
        }
        if run.state is RunState.FAILED:
            result["error"] = run.error
        return result

    def _reaped(self, job: Job) -> None:
        self._runs.fail_unfinished(
            job.id, f"worker_lost: worker {job.worker} stopped heartbeating during the run"
        )

    def worker(self, *, heartbeat_s: float = 2.0, poll_s: float = 0.5) -> Worker:
        """A worker for training jobs."""
        return Worker(
            self.jobs,
            {TRAIN: self.handle, **self.handlers},
            heartbeat_s=heartbeat_s,
            poll_s=poll_s,
            on_reaped=self._reaped,
        )

    def sync_schedules(self) -> builtins.list[Schedule]:
        """Store the ``schedule = "…"`` of every training; drop schedules no longer declared."""
        now = utcnow()
        declared: dict[str, str] = {}
        for name in self._runner.names():
            every = self._runner.spec(name).schedule
            if every:
                parse_schedule(str(every))
                declared[name] = str(every)
        for name, cron in declared.items():
            self.schedules.upsert(name, cron, next_fire(cron, now))
        for schedule in self.schedules.list():
            if schedule.training not in declared:
                self.schedules.remove(schedule.training)
        return self.schedules.list()

    def scheduler(self, *, lease_s: float = 10.0, tick_s: float = 1.0) -> Scheduler:
        """A scheduler that queues a run per fire (one per fire, whoever leads)."""

        def fire(training: str, fire_at: Any) -> str:
            key = fire_key(training, fire_at)
            run, _ = self.trigger(
                training, trigger="schedule", idempotency_key=key, actor="scheduler"
            )
            return run.id

        return Scheduler(
            self.schedules,
            self.leases,
            self.jobs,
            fire,
            kind=TRAIN,
            lease_s=lease_s,
            tick_s=tick_s,
            periodic=self.periodic,
        )

    def set_paused(self, training: str, paused: bool, *, actor: str | None = None) -> None:
        """Pause or resume a training's schedule; the audit log records who."""
        if training not in self._runner.names():
            raise ConfigError(f"no training named {training!r}")
        self.schedules.set_paused(training, paused)
        action = "schedule.paused" if paused else "schedule.resumed"
        self._audit.record(self._runner.who(actor), action, training)
