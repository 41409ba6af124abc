"""The entry-script endpoints one serving replica runs, following their rows.

A changed deployment (new script, models, environment or resources) starts beside
the one serving; requests keep going to the old one until the new one is ready, then
the old one is stopped: an update drops nothing.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelyard.deployments.entry.deployment import ScriptDeployment
from modelyard.deployments.entry.spec import deployment_digest
from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.errors import EndpointNotFound
from modelyard.registry.registry import Registry
from modelyard.storage.endpoints import EndpointRecord, EndpointStore


@dataclass
class _Pair:
    current: ScriptDeployment
    pending: ScriptDeployment | None = None


class ScriptEndpoints:
    """Entry-script deployments by endpoint name."""

    def __init__(
        self,
        registry: Registry,
        store: EndpointStore,
        environments: EnvironmentCache,
        workdir: Path,
        collect_address: Callable[[str], str] | None = None,
    ) -> None:
        """``collect_address(endpoint)`` gives the socket a collecting endpoint's
        ``ModelDataCollector`` sends its rows to (without it, they go to CSV files)."""
        self._registry = registry
        self._store = store
        self._environments = environments
        self._workdir = workdir
        self._collect_address = collect_address
        self._replica = f"{socket.gethostname()}:{os.getpid()}"
        self._pairs: dict[str, _Pair] = {}
        self._lock = threading.Lock()

    def sync(self, record: EndpointRecord) -> None:
        """Run what ``record`` describes: start it, or start its new deployment beside the
        old one, or retire the old one once the new one is ready."""
        with self._lock:
            pair = self._pairs.get(record.name)
            digest = deployment_digest(record.options, collect=record.collect)
            if pair is None:
                self._pairs[record.name] = _Pair(self._new(record))
                return
            if pair.pending is not None and pair.pending.ready:
                pair.current.stop()
                pair.current, pair.pending = pair.pending, None
            wanted = pair.pending or pair.current
            if wanted.digest != digest:
                if pair.pending is not None:
                    pair.pending.stop()
                pair.pending = self._new(record)

    def _new(self, record: EndpointRecord) -> ScriptDeployment:
        deployment = ScriptDeployment(
            record,
            registry=self._registry,
            store=self._store,
            environments=self._environments,
            workdir=self._workdir,
            replica=self._replica,
            collect_address=self._collect_address,
        )
        deployment.start()
        return deployment

    def get(self, name: str) -> ScriptDeployment:
        """The deployment answering for ``name`` now (the new one as soon as it is ready)."""
        pair = self._pairs.get(name)
        if pair is None:
            raise EndpointNotFound(f"no endpoint named {name!r} on this server", endpoint=name)
        if pair.pending is not None and (pair.pending.ready or not pair.current.ready):
            return pair.pending
        return pair.current

    def remove(self, name: str) -> None:
        """Stop serving ``name``."""
        with self._lock:
            pair = self._pairs.pop(name, None)
        if pair is not None:
            for deployment in (pair.current, pair.pending):
                if deployment is not None:
                    deployment.stop()

    def names(self) -> list[str]:
        """The endpoints run here."""
        return sorted(self._pairs)

    def stop(self) -> None:
        """Stop every deployment."""
        for name in self.names():
            self.remove(name)
