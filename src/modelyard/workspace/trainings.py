"""``ws.trainings``, ``ws.runs`` and ``ws.sources``: training from SQL as the SDK shows it."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import pandas as pd

from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, Conflict
from modelyard.sources.arrow import to_frame
from modelyard.sources.declared import open_source
from modelyard.sources.files import FileSource
from modelyard.sources.sql import SqlSource
from modelyard.storage.runs import Run, RunStore
from modelyard.training.demo_data import write_demo
from modelyard.training.journal import OnStage
from modelyard.training.runner import TrainingRunner
from modelyard.training.spec import TrainingSpec
from modelyard.types import RunState
from modelyard.workspace.jobs import RunQueue


class Trainings:
    """``ws.trainings``: the trainings declared in ``modelyard.toml``, and running them."""

    def __init__(self, runner: TrainingRunner, queue: RunQueue) -> None:
        self._runner = runner
        self._queue = queue

    def list(self) -> builtins.list[str]:
        """The declared training names."""
        return self._runner.names()

    def get(self, name: str) -> TrainingSpec:
        """The parsed declaration of ``name``."""
        return self._runner.spec(name)

    def run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        wait: bool = True,
        trigger: str = "sdk",
        on_stage: OnStage | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Run a training. ``wait=True`` runs it here and returns the finished run (check
        ``run.state``: a failure is recorded, not raised; if this process dies meanwhile, the
        run is failed as ``worker_lost`` by the next worker or run); ``wait=False`` queues it
        for a worker (``modelyard up`` or ``modelyard worker``) and returns the queued run."""
        if not wait:
            run, _ = self._queue.trigger(
                name, params=params, trigger=trigger, idempotency_key=idempotency_key
            )
            return run
        return self._queue.run_here(name, params=params, trigger=trigger, on_stage=on_stage)


class Runs:
    """``ws.runs``: recorded training runs."""

    def __init__(self, store: RunStore, queue: RunQueue) -> None:
        self._store = store
        self._queue = queue

    def cancel(self, run_id: str) -> Run:
        """Cancel a queued run now, or a running one at its next stage; raises ``Conflict``
        if the run had already ended."""
        run = self._store.get(run_id)
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            raise Conflict(f"run {run.id[:8]} has ended ({run.state.value}): nothing to cancel")
        return self._queue.cancel(run.id)

    def get(self, run_id: str) -> Run:
        """One run by id (or a unique prefix)."""
        return self._store.get(run_id)

    def list(
        self, training: str | None = None, *, limit: int = 50, logs: bool = True
    ) -> builtins.list[Run]:
        """The newest runs first (without their logs if ``logs=False``)."""
        return self._store.list(training, limit=limit, logs=logs)


class Sources:
    """``ws.sources``: the data sources declared in ``modelyard.toml``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self, name: str) -> SqlSource | FileSource:
        """The source ``name``; the caller closes it."""
        spec = self._settings.sources.get(name)
        if spec is None:
            known = ", ".join(sorted(self._settings.sources)) or "none"
            raise ConfigError(f"no source named {name!r} in modelyard.toml (declared: {known})")
        return open_source(name, spec, self._settings.root)

    def read(
        self,
        name: str,
        query: str | None = None,
        *,
        table: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Read a query or table of source ``name`` into a DataFrame."""
        source = self.get(name)
        try:
            return to_frame(source.read(query, table=table, params=params))
        finally:
            source.close()

    def demo_data(
        self,
        kind: str,
        source: str,
        rows: int,
        *,
        table: str | None = None,
        seed: int = 0,
        noisy: bool = False,
        replace: bool = False,
    ) -> int:
        """Write the ``immo`` or ``churn`` demo data set into a source; returns rows written."""
        target = self.get(source)
        try:
            return write_demo(
                target,
                kind,
                rows,
                table=table,
                seed=seed,
                noisy=noisy,
                if_exists="replace" if replace else "append",
            )
        finally:
            target.close()
