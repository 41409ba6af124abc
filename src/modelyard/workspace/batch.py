"""``ws.batch``: batch scoring jobs as the SDK shows them.

job = ws.batch.score("churn@champion", source="warehouse", table="customers", key="id",
                     output_table="churn_scores")
job.status, job.progress, job.outputs
"""

from __future__ import annotations

import builtins
import functools
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.batch.runner import BatchRunner
from modelyard.batch.spec import BatchSpec, check_job_id
from modelyard.config.settings import Settings
from modelyard.errors import ModelyardError, ScoringTimeout
from modelyard.jobs.executors.base import Executor
from modelyard.jobs.worker import JobContext, worker_name
from modelyard.registry.registry import Registry
from modelyard.storage.batch import KIND, BatchRow, BatchStore
from modelyard.storage.queue import CANCELLED, FAILED, SUCCEEDED, Job, JobStore

ENDED = (SUCCEEDED, FAILED, CANCELLED)


@dataclass(frozen=True)
class Progress:
    """How far a job got: rows scored and skipped, out of ``total`` (None until known)."""

    done: int
    skipped: int
    total: int | None

    @property
    def fraction(self) -> float | None:
        """Rows handled over rows in the input (None while the total is unknown)."""
        if not self.total:
            return None
        return min(1.0, (self.done + self.skipped) / self.total)


class BatchJob:
    """A handle on one batch job: its state is read from the registry each time."""

    def __init__(self, batch: Batch, job_id: str) -> None:
        self._batch = batch
        self.id = job_id

    @property
    def row(self) -> BatchRow:
        """The job as stored now."""
        return self._batch.store.get(self.id)

    @property
    def status(self) -> str:
        """queued, running, succeeded, failed or cancelled."""
        return self.row.state

    @property
    def error(self) -> str | None:
        """Why it failed, if it did."""
        return self.row.error

    @property
    def progress(self) -> Progress:
        """Rows scored and skipped so far, and the input's row count."""
        row = self.row
        return Progress(row.rows_done, row.rows_skipped, row.rows_total)

    @property
    def outputs(self) -> builtins.list[str]:
        """``table:NAME``, or the chunk files written (so far, for a running job)."""
        return self._batch.outputs(self.id)

    @property
    def skipped(self) -> builtins.list[dict[str, Any]]:
        """The rows left out (``{"key", "reason"}``, the first 1,000)."""
        return self.row.skipped

    def wait(self, timeout: float | None = None, poll_s: float = 0.2) -> BatchJob:
        """Block until the job has ended; ScoringTimeout after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status not in ENDED:
            if deadline is not None and time.monotonic() > deadline:
                raise ScoringTimeout(f"batch job {self.id} still {self.status} after {timeout} s")
            time.sleep(poll_s)
        return self

    def cancel(self) -> BatchJob:
        """Cancel the job (a running one stops before its next chunk)."""
        self._batch.cancel(self.id)
        return self

    def __repr__(self) -> str:
        return f"BatchJob(id={self.id!r})"


class Batch:
    """``ws.batch``: submit, run, follow and cancel batch scoring jobs."""

    def __init__(self, settings: Settings, runner: BatchRunner, store: BatchStore) -> None:
        self._settings = settings
        self.runner = runner
        self.store = store

    def score(
        self,
        model: str,
        *,
        source: str,
        key: str,
        query: str | None = None,
        table: str | None = None,
        output_table: str | None = None,
        output_source: str | None = None,
        output: str | None = None,
        chunk_rows: int | None = None,
        job_id: str | None = None,
        on_error: str = "fail",
        partitions: int = 1,
        wait: bool = True,
    ) -> BatchJob:
        """Score ``query`` (or ``table``) of ``source`` with ``model`` into ``output_table``
        (of ``output_source``, default ``source``) or ``output`` (a folder of .parquet or
        .csv chunk files, an fsspec URL). ``wait=True`` runs it here (a failure is raised
        and recorded on the job); ``wait=False`` queues it for a worker. The same
        ``job_id`` again resumes that job after its last committed chunk."""
        spec = BatchSpec(
            model=model, source=source, key=key, query=query, table=table,
            output_table=output_table, output_source=output_source, output=output,
            on_error=on_error, partitions=partitions,
            **({"chunk_rows": chunk_rows} if chunk_rows is not None else {}),
        )  # fmt: skip
        job = self.submit(spec, job_id)
        if wait:
            self.run(job.id)
        return job

    def submit(
        self,
        spec: BatchSpec,
        job_id: str | None = None,
        *,
        held: bool = False,
        endpoint: str | None = None,
    ) -> BatchJob:
        """Store the job (queued, or held until :meth:`start`; the model version pinned
        now; ``endpoint`` the one whose BES submitted it) and return its handle."""
        chosen = check_job_id(job_id) if job_id else uuid.uuid4().hex
        extra = {"endpoint": endpoint} if endpoint else {}
        self.runner.submit(spec, chosen, held=held, extra=extra)
        return BatchJob(self, chosen)

    def run(self, job_id: str, *, stop: threading.Event | None = None) -> BatchJob:
        """Run (or resume) job ``job_id`` in this process until it ends (a job that
        succeeded already is left as it is)."""
        if self.store.get(job_id).state == SUCCEEDED:
            return BatchJob(self, job_id)
        self.runner.run_here(job_id, worker_name(), stop=stop)
        return BatchJob(self, job_id)

    def get(self, job_id: str) -> BatchJob:
        """The handle of job ``job_id`` (JobNotFound if there is none)."""
        self.store.get(job_id)
        return BatchJob(self, job_id)

    def list(self, *, limit: int = 50) -> builtins.list[BatchRow]:
        """The newest batch jobs first."""
        return self.store.list(limit=limit)

    def start(self, job_id: str) -> BatchJob:
        """Queue a held job for a worker (Azure classic BES's start)."""
        self.store.release(job_id)
        return BatchJob(self, job_id)

    def cancel(self, job_id: str) -> BatchRow:
        """Cancel a held, queued or running job; Conflict if it has ended."""
        return self.store.cancel(job_id)

    def outputs(self, job_id: str) -> builtins.list[str]:
        """Where job ``job_id`` wrote: ``table:NAME`` or its chunk files."""
        row = self.store.get(job_id)
        spec = row.spec
        if spec.get("output_table"):
            return [f"table:{spec['output_table']}"]
        return [c.path for c in self.store.chunks(job_id)]

    def handle(self, job: Job, context: JobContext) -> Mapping[str, Any]:
        """The worker's handler for ``batch`` jobs (the worker claimed the job already);
        a failure is recorded as ``code: message``, as when a job runs here."""
        try:
            return self.runner.execute(job.id, context.cancelled)
        except ModelyardError as exc:
            return {"error": f"{exc.code}: {exc.message}"}
        finally:
            self.runner.close()


def open_runner(settings: Settings) -> BatchRunner:
    """A runner on the workspace of ``settings``: what a partition task opens where it
    runs (another process, a Ray worker)."""
    from modelyard.workspace.root import Workspace  # the composition root, opened in the task

    ws = Workspace(settings)
    runner = ws.batch.runner
    runner._on_close = ws.close
    return runner


def build_runner(
    settings: Settings,
    registry: Registry,
    store: BatchStore,
    jobs: JobStore,
    executor: Executor,
) -> BatchRunner:
    """The workspace's runner: partitions run as ``[executor]`` tasks that open the
    workspace again where they run."""
    opener = functools.partial(open_runner, settings)
    return BatchRunner(settings, registry, store, jobs, executor, opener=opener)


__all__ = ["KIND", "Batch", "BatchJob", "Progress", "build_runner"]
