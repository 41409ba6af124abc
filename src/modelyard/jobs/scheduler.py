"""The scheduler: only the holder of the ``scheduler`` lease fires, and each fire once.

Per tick, every due schedule fires at most once however many fire times it missed
(coalesce); a fire whose training is still queued or running is skipped and recorded as
such; the (training, fire time) guard and the job's idempotency key make a fire that two
schedulers both attempt start one job. Periodic tasks (monitoring checks, webhook
deliveries: named callables the composition root hands in) run on the leader too, each
every ``every_s`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from modelyard.errors import ModelyardError
from modelyard.jobs.schedule import next_fire
from modelyard.jobs.worker import worker_name
from modelyard.storage.leases import LeaseStore
from modelyard.storage.queue import JobStore
from modelyard.storage.schedules import ScheduleStore
from modelyard.storage.schema import utcnow

log = logging.getLogger("modelyard.scheduler")
LEASE = "scheduler"

Fire = Callable[[str, datetime], str]
"""Start a run of (training, fire time); returns the job id (idempotent per fire)."""


def fire_key(training: str, fire_at: datetime) -> str:
    """The idempotency key of one fire's job: a leader that died after queuing the job but
    before recording the fire leaves it for the next leader to record as started."""
    return f"schedule:{training}:{fire_at.isoformat()}"


@dataclass(frozen=True)
class Fired:
    """What one tick did for one schedule."""

    training: str
    fire_at: datetime
    outcome: str  # "started" or "skipped_running"
    job_id: str | None


@dataclass(frozen=True)
class Periodic:
    """A task the leader runs every ``every_s`` seconds (its errors are logged)."""

    name: str
    every_s: float
    run: Callable[[], object]


class Scheduler:
    """Fires due schedules, and runs periodic tasks, while it holds the lease."""

    def __init__(
        self,
        schedules: ScheduleStore,
        leases: LeaseStore,
        jobs: JobStore,
        fire: Fire,
        *,
        kind: str = "train",
        holder: str | None = None,
        lease_s: float = 10.0,
        tick_s: float = 1.0,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self._schedules = schedules
        self._leases = leases
        self._jobs = jobs
        self._fire = fire
        self._kind = kind
        self.holder = holder or worker_name()
        self.lease = timedelta(seconds=lease_s)
        self.tick_s = tick_s
        self._periodic = list(periodic)
        self._last_run: dict[str, float] = {}

    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Fire what is due if this scheduler leads; returns what it did."""
        if not self._leases.acquire(LEASE, self.holder, self.lease):
            return []
        moment = now or utcnow()
        done: list[Fired] = []
        for schedule in self._schedules.list():
            if schedule.paused or schedule.next_fire_at > moment:
                continue
            fire_at = schedule.next_fire_at  # missed fires coalesce into this one
            following = next_fire(schedule.spec, moment)
            active = self._jobs.active(self._kind, schedule.training)
            mine = fire_key(schedule.training, fire_at)
            if active and all(job.idempotency_key != mine for job in active):
                outcome, job_id = "skipped_running", None
            else:
                outcome, job_id = "started", self._fire(schedule.training, fire_at)
            if self._schedules.record_fire(schedule.training, fire_at, following, outcome, job_id):
                done.append(Fired(schedule.training, fire_at, outcome, job_id))
                log.info("schedule %s at %s: %s", schedule.training, fire_at, outcome)
        self._run_periodic()
        return done

    def _run_periodic(self) -> None:
        for task in self._periodic:
            now = time.monotonic()
            if now - self._last_run.get(task.name, -float("inf")) < task.every_s:
                continue
            self._last_run[task.name] = now
            try:
                task.run()
            except ModelyardError as exc:
                log.warning("%s: %s; retrying in %g s", task.name, exc.message, task.every_s)
            except Exception:  # a bug in one task must not stop the scheduler
                log.exception("%s failed; retrying in %g s", task.name, task.every_s)

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, then give the lease up."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except ModelyardError as exc:
                    log.warning("scheduler %s: %s; retrying", self.holder, exc.message)
                stop.wait(self.tick_s)
        finally:
            with contextlib.suppress(ModelyardError):
                self._leases.release(LEASE, self.holder)
