"""The composition root: ``Workspace`` builds the stores, the registry, the runner and the
SDK's collections from ``Settings``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from modelyard.config.locations import CONFIG_FILE, STATE_DIR, find_config
from modelyard.config.settings import Settings
from modelyard.config.template import default_config_text
from modelyard.deployments.env.sharing import SharedEnvironments
from modelyard.errors import Unauthorized
from modelyard.jobs.executors.choice import build_executor
from modelyard.registry.doctor import DoctorReport
from modelyard.registry.doctor import check as doctor_check
from modelyard.registry.flavours.loader import SafeLoader
from modelyard.registry.registry import Registry
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.audit import AuditLog
from modelyard.storage.batch import BatchStore
from modelyard.storage.endpoints import EndpointStore
from modelyard.storage.engine import Database
from modelyard.storage.environments import EnvironmentLockStore
from modelyard.storage.migrate import upgrade
from modelyard.storage.people import PeopleStore
from modelyard.storage.runs import RunStore
from modelyard.storage.sessions import SessionStore
from modelyard.training.runner import TrainingRunner
from modelyard.workspace.batch import Batch, build_runner
from modelyard.workspace.endpoints import Endpoints
from modelyard.workspace.environments import (
    Environments,
)
from modelyard.workspace.jobs import RunQueue
from modelyard.workspace.models import Models
from modelyard.workspace.monitoring import Monitoring
from modelyard.workspace.people import People, Person
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
        self.executor = build_executor(settings.executor)
        runner = TrainingRunner(settings, self.registry, RunStore(self.db), self.executor)
        self.models = Models(self.registry, settings.trainings, runner)
        self.queue = RunQueue(settings, self.db, runner, RunStore(self.db))
        self.trainings = Trainings(runner, self.queue)
        self.runs = Runs(RunStore(self.db), self.queue)
        self.sources = Sources(settings)
        self.endpoints = Endpoints(
            EndpointStore(self.db), settings, self.registry, self.people.audit
        )
        self.environments = Environments(
            settings.environments,
            EndpointStore(self.db),
            SharedEnvironments(self.store, EnvironmentLockStore(self.db)),
        )
        self.monitoring = Monitoring(
            settings, self.db, self.registry, EndpointStore(self.db), self.queue
        )
        self.queue.periodic.extend(self.monitoring.periodic())
        batch_store = BatchStore(self.db)
        self.batch = Batch(
            settings,
            build_runner(settings, self.registry, batch_store, self.queue.jobs, self.executor),
            batch_store,
        )
        self.queue.handlers["batch"] = self.batch.handle

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
        self.executor.close()
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
