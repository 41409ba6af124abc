"""The composition root and the SDK: ``Workspace.from_config()`` builds everything.

from modelyard import Workspace
ws = Workspace.from_config()
v = ws.models.register("immo", "model.skops")
ws.models.promote("immo", v.version)
est = ws.models.load("immo@champion")
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from modelyard import config as cfg
from modelyard.errors import ConfigError, ModelyardError
from modelyard.registry import (
    DoctorReport,
    Event,
    Model,
    ModelVersion,
    Registry,
    SafeLoader,
    VersionInfo,
    infer_signature,
)
from modelyard.registry.aliases import UNSET
from modelyard.registry.doctor import check as doctor_check
from modelyard.registry.endpoints import EndpointRecord, EndpointStore
from modelyard.registry.runs import Run, RunStore
from modelyard.sources import FileSource, SqlSource, open_source, to_frame
from modelyard.storage import ArtifactStore, Database, upgrade
from modelyard.training import TrainingRunner, TrainingSpec
from modelyard.training.demo_data import write_demo
from modelyard.training.runner import OnStage
from modelyard.types import DEFAULT_ALIAS, Flavour, ModelRef, OutputKind, Signature


class Models:
    """``ws.models``: register, find, promote, roll back and load model versions."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def register(
        self,
        name: str,
        model: object,
        *,
        input_example: pd.DataFrame | None = None,
        signature: Signature | None = None,
        output_kind: OutputKind = OutputKind.RAW,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        lineage: Mapping[str, Any] | None = None,
        description: str = "",
        flavour: Flavour | str | None = None,
        main: str | None = None,
        allow_pickle: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a path (file or folder) or a live estimator as the next version of ``name``.

        ``input_example`` (a DataFrame) gives the signature; ``allow_pickle`` lets an
        admin register a pickle/joblib file, which then loads only while its bytes match.
        """
        if signature is None and input_example is not None:
            signature = infer_signature(input_example, output_kind)
        info = VersionInfo(
            signature=signature,
            metrics=dict(metrics or {}),
            params=dict(params or {}),
            tags=dict(tags or {}),
            lineage=dict(lineage or {}),
            description=description,
        )
        if isinstance(model, str | os.PathLike):
            return self._registry.register_path(
                name,
                Path(model),
                info,
                flavour=Flavour(flavour) if flavour else None,
                main=main,
                allow_pickle=allow_pickle,
                actor=actor,
            )
        return self._registry.register_object(name, model, info, actor=actor)

    def get(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """One version (default: the champion); raises ``NotFound`` if there is none."""
        if version is not None and alias is not None:
            raise ConfigError("give either version or alias, not both")
        return self._registry.get_version(name, version, alias=alias)

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``immo``, ``immo@champion`` or ``immo:3`` names."""
        return self._registry.resolve(ref)

    def list(self, *, include_archived: bool = False) -> builtins.list[Model]:
        """All models."""
        return self._registry.list_models(include_archived=include_archived)

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """All versions of ``name``, oldest first."""
        return self._registry.list_versions(name)

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = DEFAULT_ALIAS,
        reason: str = "",
        force: bool = False,
        expected: Any = UNSET,
        actor: str | None = None,
    ) -> Event | None:
        """Move ``alias`` (default ``champion``) to ``version``; see ``Registry.promote``."""
        return self._registry.promote(
            name, version, alias=alias, reason=reason, force=force, expected=expected, actor=actor
        )

    def rollback(
        self, name: str, *, alias: str = DEFAULT_ALIAS, reason: str = "", actor: str | None = None
    ) -> Event:
        """Return ``alias`` to the version it held before the current one."""
        return self._registry.rollback(name, alias=alias, reason=reason, actor=actor)

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[Event]:
        """The model's event log, oldest first."""
        return self._registry.history(name, alias=alias)

    def load(self, ref: str | ModelRef) -> object:
        """Load a version through the one safe loader (hash, allow-list and pickle checks)."""
        return self._registry.load(ref)

    def download(self, ref: str | ModelRef, target: str | os.PathLike[str]) -> Path:
        """Write a version's verified files into ``target``."""
        return self._registry.download(ref, Path(target))

    def archive(self, name: str, version: int | None = None, *, actor: str | None = None) -> None:
        """Archive a version (or the whole model)."""
        self._registry.archive(name, version, actor=actor)

    def approve(self, name: str, version: int, *, actor: str | None = None) -> Event | None:
        """Approve a version held pending by ``require_approval``: it becomes champion."""
        return self._registry.approve(name, version, actor=actor)


class Trainings:
    """``ws.trainings``: the trainings declared in ``modelyard.toml``, and running them."""

    def __init__(self, runner: TrainingRunner) -> None:
        self._runner = runner

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
    ) -> Run:
        """Run a training and return its record (check ``run.state``; a failure is recorded,
        not raised). Runs execute in this process; ``wait`` is accepted for symmetry with the
        queued runs of ``modelyard up``."""
        del wait
        return self._runner.run(name, params=params, trigger=trigger, on_stage=on_stage)


class Runs:
    """``ws.runs``: recorded training runs."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def get(self, run_id: str) -> Run:
        """One run by id (or a unique prefix)."""
        return self._store.get(run_id)

    def list(self, training: str | None = None, *, limit: int = 50) -> builtins.list[Run]:
        """The newest runs first."""
        return self._store.list(training, limit=limit)


class Sources:
    """``ws.sources``: the data sources declared in ``modelyard.toml``."""

    def __init__(self, settings: cfg.Settings) -> None:
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


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as the SDK shows it; ``keys`` is filled only when just created."""

    name: str
    target: str
    state: str
    scoring_uri: str
    swagger_uri: str
    created_at: datetime
    updated_at: datetime
    keys: Mapping[str, str] | None = None

    def predict(
        self, rows: builtins.list[Any], *, key: str | None = None, timeout: float = 30.0
    ) -> builtins.list[Any]:
        """POST ``{"data": rows}`` to the scoring URI and return the predictions."""
        token = key or (self.keys or {}).get("primary")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            self.scoring_uri, json={"data": rows}, headers=headers, timeout=timeout
        )
        if response.status_code != 200:
            try:
                body = response.json()
                message = body.get("message", response.text)
            except ValueError:
                message = response.text
            raise ModelyardError(f"{self.name} answered {response.status_code}: {message}")
        predictions: builtins.list[Any] = response.json()["predictions"]
        return predictions


class Endpoints:
    """``ws.endpoints``: real-time endpoints serving a model reference."""

    def __init__(self, store: EndpointStore, settings: cfg.Settings) -> None:
        self._store = store
        self._base = settings.serve_url

    def _view(self, record: EndpointRecord, keys: Mapping[str, str] | None = None) -> Endpoint:
        return Endpoint(
            name=record.name,
            target=record.target,
            state=record.state.value,
            scoring_uri=f"{self._base}/endpoints/{record.name}/score",
            swagger_uri=f"{self._base}/endpoints/{record.name}/swagger.json",
            created_at=record.created_at,
            updated_at=record.updated_at,
            keys=keys,
        )

    def create(
        self,
        name: str,
        *,
        model: str,
        collect: bool = False,
        description: str = "",
        batch_max_rows: int = 0,
        batch_max_wait_ms: float = 2.0,
    ) -> Endpoint:
        """Create an endpoint serving ``model`` (``immo``, ``immo@champion``, ``immo:3``);
        its keys are returned this once. ``batch_max_rows > 0`` turns on adaptive
        micro-batching of concurrent requests (batches of up to that many rows, each
        request waiting at most ``batch_max_wait_ms``)."""
        options: dict[str, Any] = {}
        if batch_max_rows > 0:
            options["batch"] = {"max_rows": batch_max_rows, "max_wait_ms": batch_max_wait_ms}
        record, keys = self._store.create(
            name, model, collect=collect, description=description, options=options
        )
        return self._view(record, keys)

    def get(self, name: str) -> Endpoint:
        """The endpoint ``name``."""
        return self._view(self._store.get(name))

    def list(self) -> builtins.list[Endpoint]:
        """All endpoints."""
        return [self._view(r) for r in self._store.list()]

    def delete(self, name: str) -> None:
        """Delete the endpoint ``name`` (replicas stop serving it within a second)."""
        self._store.delete(name)

    def regenerate_key(self, name: str, slot: str = "primary") -> str:
        """A new primary or secondary key; the old one stops working."""
        return self._store.regenerate(name, slot)


class Workspace:
    """A registry database, an artifact store and the settings that name them."""

    def __init__(self, settings: cfg.Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
        )
        _ensure_sqlite_folder(settings)
        upgrade(self.db)
        self.store = ArtifactStore(settings.artifacts)
        scratch = settings.root / cfg.STATE_DIR / "cache"
        loader = SafeLoader(self.store, settings.skops_trusted, scratch)
        self.registry = Registry(self.db, self.store, loader, settings.skops_trusted)
        self.models = Models(self.registry)
        self.runs = Runs(RunStore(self.db))
        self.trainings = Trainings(TrainingRunner(settings, self.registry, RunStore(self.db)))
        self.sources = Sources(settings)
        self.endpoints = Endpoints(EndpointStore(self.db), settings)

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
    ) -> Workspace:
        """Open the workspace whose ``modelyard.toml`` is in ``path`` (default: the current
        folder) or the nearest parent; upgrades an older registry schema."""
        start = Path(path) if path is not None else None
        config_path = start if start is not None and start.is_file() else cfg.find_config(start)
        return cls(cfg.Settings.load(config_path, env))

    @classmethod
    def init(
        cls, folder: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
    ) -> Workspace:
        """Create ``modelyard.toml`` and ``.modelyard/`` in ``folder`` (kept if present);
        then open the workspace."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        (root / cfg.STATE_DIR).mkdir(exist_ok=True)
        config_path = root / cfg.CONFIG_FILE
        if not config_path.exists():
            config_path.write_text(cfg.default_config_text(), encoding="utf-8")
        return cls(cfg.Settings.load(config_path, env))

    def doctor(self, *, fix: bool = False) -> DoctorReport:
        """Check that every version's artifact exists and matches its sha256."""
        return doctor_check(self.db, self.store, fix=fix)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r}, database={self.settings.database_url})"


def _ensure_sqlite_folder(settings: cfg.Settings) -> None:
    url = settings.database_url.reveal()
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix) and not url[len(prefix) :].startswith(":memory:"):
            Path(url[len(prefix) :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
