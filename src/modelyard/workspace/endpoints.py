"""``ws.endpoints``: real-time endpoints as the SDK shows them."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from modelyard import config as cfg
from modelyard.errors import ModelyardError
from modelyard.registry.endpoints import EndpointRecord, EndpointStore


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

    def update(self, name: str, *, model: str) -> Endpoint:
        """Serve ``model`` (``immo``, ``immo@champion``, ``immo:3``) from the endpoint ``name``
        from now on; its keys stay the same and replicas follow within a second."""
        return self._view(self._store.set_target(name, model))

    def delete(self, name: str) -> None:
        """Delete the endpoint ``name`` (replicas stop serving it within a second)."""
        self._store.delete(name)

    def regenerate_key(self, name: str, slot: str = "primary") -> str:
        """A new primary or secondary key; the old one stops working."""
        return self._store.regenerate(name, slot)
