"""A worker: claims jobs, runs their handler, heartbeats while it runs, reaps the dead.

A job whose worker stops heartbeating (killed, machine lost) is found by any other
worker within three heartbeats: requeued while it has attempts left, failed otherwise,
and the ``on_reaped`` hook lets the owner of the job's records mark them too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from modelyard.errors import ModelyardError
from modelyard.storage.queue import Job, JobStore

log = logging.getLogger("modelyard.jobs")


@dataclass
class JobContext:
    """What a handler may look at while it runs."""

    job: Job
    cancelled: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[Job, JobContext], Mapping[str, Any]]


def worker_name() -> str:
    """host:pid:random, unique per worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs jobs of the kinds it has handlers for, one at a time."""

    def __init__(
        self,
        jobs: JobStore,
        handlers: Mapping[str, Handler],
        *,
        name: str | None = None,
        heartbeat_s: float = 2.0,
        poll_s: float = 0.5,
        on_reaped: Callable[[Job], None] | None = None,
    ) -> None:
        self._jobs = jobs
        self._handlers = dict(handlers)
        self.name = name or worker_name()
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self._on_reaped = on_reaped

    def reap(self, *, beating_only: bool = False) -> list[Job]:
        """Requeue or fail jobs whose worker stopped heartbeating for 3 beats (its own, for
        a job that says how often it beats; with ``beating_only``, only such jobs)."""
        reaped = self._jobs.reap(timedelta(seconds=3 * self.heartbeat_s), beating_only=beating_only)
        for job in reaped:
            log.warning("job %s of %s stopped heartbeating: now %s", job.id, job.worker, job.state)
            if self._on_reaped is not None and job.state == "failed":
                try:
                    self._on_reaped(job)
                except ModelyardError:
                    log.exception("could not record the reaped job %s", job.id)
        return reaped

    def run_once(self) -> Job | None:
        """Claim and run one job; returns it as it ended, or None if the queue was empty."""
        job = self._jobs.claim(self.name, tuple(self._handlers))
        if job is None:
            return None
        return self.run_claimed(job, self._handlers[job.kind])

    def run_claimed(self, job: Job, handler: Handler) -> Job:
        """Run ``job``, held by this worker, with ``handler`` while heartbeating; returns
        it as it ended (a failure is recorded on the job, not raised)."""
        context = JobContext(job)
        stop_beating = threading.Event()

        def beat() -> None:
            while not stop_beating.wait(self.heartbeat_s):
                try:
                    alive = self._jobs.heartbeat(job.id, self.name)
                except ModelyardError:
                    continue  # the database blinked: try again next beat
                if not alive:
                    context.cancelled.set()
                    return

        beater = threading.Thread(target=beat, name=f"heartbeat-{job.id[:8]}", daemon=True)
        beater.start()
        try:
            result = handler(job, context)
        except Exception as exc:  # recorded on the job; the worker goes on
            log.error("job %s failed: %s", job.id, traceback.format_exc())
            self._jobs.finish(job.id, self.name, error=f"{type(exc).__name__}: {exc}")
        else:
            error = result.get("error") if isinstance(result, Mapping) else None
            self._jobs.finish(job.id, self.name, result=result, error=error)
        finally:
            stop_beating.set()
            beater.join(timeout=self.heartbeat_s + 1)
        return self._jobs.get(job.id)

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the job in hand is finished first."""
        while not stop.is_set():
            try:
                self.reap()
                if self.run_once() is None:
                    stop.wait(self.poll_s)
            except ModelyardError as exc:
                log.warning("worker %s: %s; retrying", self.name, exc.message)
                stop.wait(self.poll_s * 4)
