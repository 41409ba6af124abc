"""The composition root: ``Workspace`` builds the stores, the registry, the runner and the
SDK's collections from ``Settings``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.config.locations import CONFIG_FILE, STATE_DIR, find_config
from modelyard.config.settings import Settings
from modelyard.config.template import default_config_text
from modelyard.errors import Unauthorized
from modelyard.registry.doctor import DoctorReport
from modelyard.registry.doctor import check as doctor_check
from modelyard.registry.flavours.loader import SafeLoader
from modelyard.registry.registry import Registry
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.audit import AuditLog
from modelyard.storage.endpoints import EndpointStore
from modelyard.storage.engine import Database
from modelyard.storage.migrate import upgrade
from modelyard.storage.people import PeopleStore
from modelyard.storage.runs import RunStore
from modelyard.storage.sessions import SessionStore
from modelyard.workspace.models import Models
from modelyard.workspace.people import People, Person

if TYPE_CHECKING:
    from modelyard.jobs.executors.base import Executor
    from modelyard.training.runner import TrainingRunner
    from modelyard.workspace.batch import Batch
    from modelyard.workspace.endpoints import Endpoints
    from modelyard.workspace.environments import Environments
    from modelyard.workspace.jobs import RunQueue
    from modelyard.workspace.monitoring import Monitoring
    from modelyard.workspace.trainings import Runs, Sources, Trainings


class Workspace:
    """A registry database, an artifact store and the settings that name them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
        )
        _ensure_sqlite_folder(settings)
        upgrade(self.db)
        self.people = People(
            settings.admin_key, PeopleStore(self.db), SessionStore(self.db), AuditLog(self.db)
        )
        self.person = self._person(settings)
        self.store = ArtifactStore(
            settings.artifacts, options=settings.storage_options, cache=settings.blob_cache
        )
        scratch = settings.root / STATE_DIR / "cache"
        loader = SafeLoader(self.store, settings.skops_trusted, scratch)
        self.registry = Registry(
            self.db,
            self.store,
            loader,
            settings.skops_trusted,
            actor=self.person.name if self.person else None,
        )
        self.models = Models(self.registry, settings.trainings, lambda: self._jobs.runner)

    # What follows is built on first use, with the modules it needs: `modelyard models
    # list` opens a workspace without importing scikit-learn, pandas or the HTTP client.

    @cached_property
    def executor(self) -> Executor:
        """Where training fits run (``[executor]``)."""
        from modelyard.jobs.executors.choice import build_executor

        return build_executor(self.settings.executor)

    @cached_property
    def _jobs(self) -> _Jobs:
        """The run queue with every job kind's handler, and the collections over it."""
        from modelyard.storage.batch import BatchStore
        from modelyard.training.runner import TrainingRunner
        from modelyard.workspace.batch import Batch, build_runner
        from modelyard.workspace.jobs import RunQueue
        from modelyard.workspace.monitoring import Monitoring
        from modelyard.workspace.trainings import Runs, Trainings

        settings, db = self.settings, self.db
        runner = TrainingRunner(settings, self.registry, RunStore(db), self.executor)
        queue = RunQueue(settings, db, runner, RunStore(db))
        monitoring = Monitoring(settings, db, self.registry, EndpointStore(db), queue)
        queue.periodic.extend(monitoring.periodic())
        batch_store = BatchStore(db)
        batch = Batch(
            settings,
            build_runner(settings, self.registry, batch_store, queue.jobs, self.executor),
            batch_store,
        )
        queue.handlers["batch"] = batch.handle
        return _Jobs(
            runner, queue, Trainings(runner, queue), Runs(RunStore(db), queue), monitoring, batch
        )

    @property
    def queue(self) -> RunQueue:
        """The durable run queue, its worker and scheduler."""
        return self._jobs.queue

    @property
    def trainings(self) -> Trainings:
        """``ws.trainings``: the declared trainings, run here or queued."""
        return self._jobs.trainings

    @property
    def runs(self) -> Runs:
        """``ws.runs``: training runs."""
        return self._jobs.runs

    @property
    def monitoring(self) -> Monitoring:
        """``ws.monitoring``: drift, performance, reports, webhooks."""
        return self._jobs.monitoring

    @property
    def batch(self) -> Batch:
        """``ws.batch``: batch scoring jobs."""
        return self._jobs.batch

    @cached_property
    def sources(self) -> Sources:
        """``ws.sources``: the declared data sources."""
        from modelyard.workspace.trainings import Sources

        return Sources(self.settings)

    @cached_property
    def endpoints(self) -> Endpoints:
        """``ws.endpoints``: real-time endpoints."""
        from modelyard.workspace.endpoints import Endpoints

        return Endpoints(EndpointStore(self.db), self.settings, self.registry, self.people.audit)

    @cached_property
    def environments(self) -> Environments:
        """``ws.environments``: entry-script environments, here and shared."""
        from modelyard.deployments.env.sharing import SharedEnvironments
        from modelyard.storage.environments import EnvironmentLockStore
        from modelyard.workspace.environments import Environments

        return Environments(
            self.settings.environments,
            EndpointStore(self.db),
            SharedEnvironments(self.store, EnvironmentLockStore(self.db)),
        )

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
    ) -> Workspace:
        """Open the workspace whose ``modelyard.toml`` is in ``path`` (default: the current
        folder) or the nearest parent; upgrades an older registry schema."""
        start = Path(path) if path is not None else None
        config_path = start if start is not None and start.is_file() else find_config(start)
        return cls(Settings.load(config_path, env))

    @classmethod
    def init(
        cls, folder: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
    ) -> Workspace:
        """Create ``modelyard.toml`` and ``.modelyard/`` in ``folder`` (kept if present);
        then open the workspace."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        (root / STATE_DIR).mkdir(exist_ok=True)
        config_path = root / CONFIG_FILE
        if not config_path.exists():
            config_path.write_text(default_config_text(), encoding="utf-8")
        return cls(Settings.load(config_path, env))

    def _person(self, settings: Settings) -> Person | None:
        """The holder of ``MODELYARD_TOKEN`` (None without one); a token that opens
        nothing is refused rather than silently ignored."""
        if settings.token is None:
            return None
        person = self.people.authenticate(settings.token.reveal())
        if person is None:
            self.db.dispose()
            raise Unauthorized(
                "MODELYARD_TOKEN is not an active personal token: "
                "`modelyard users token NAME` issues one"
            )
        return person

    def doctor(self, *, fix: bool = False) -> DoctorReport:
        """Check that every version's artifact exists and matches its sha256."""
        return doctor_check(self.db, self.store, fix=fix)

    def close(self) -> None:
        """Release database connections and the executor's."""
        built = self.__dict__
        if "executor" in built:
            self.executor.close()
        if "_jobs" in built:
            self.monitoring.close()
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r}, database={self.settings.database_url})"


def _ensure_sqlite_folder(settings: Settings) -> None:
    url = settings.database_url.reveal()
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix) and not url[len(prefix) :].startswith(":memory:"):
            Path(url[len(prefix) :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class _Jobs:
    runner: TrainingRunner
    queue: RunQueue
    trainings: Trainings
    runs: Runs
    monitoring: Monitoring
    batch: Batch
