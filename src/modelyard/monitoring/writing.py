"""How a batch of observations is written: for each endpoint its collection rows and its
columnar block, all in one transaction (``CollectionStore.insert``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelyard.monitoring import blocks, wire
from modelyard.monitoring.batch import Batch
from modelyard.monitoring.observation import Observation
from modelyard.storage.collection import BlockRow, CollectionStore


def payload(
    items: Sequence[Observation | wire.Group],
) -> list[tuple[str, list[tuple[Any, ...]], BlockRow]]:
    """The rows and block of the groups alike (``wire.merged``), and of each endpoint's
    other observations, of a write."""
    groups = wire.merged([item for item in items if isinstance(item, wire.Group)])
    batches = [Batch.of_group(group) for group in groups]
    by_endpoint: dict[str, list[Observation]] = {}
    for item in items:
        if isinstance(item, Observation):
            by_endpoint.setdefault(item.endpoint, []).append(item)
    batches += [Batch(mine) for mine in by_endpoint.values()]
    return [(batch.endpoint, batch.rows(), blocks.encode(batch)) for batch in batches]


def write_observations(store: CollectionStore, items: Sequence[Observation | wire.Group]) -> None:
    """Write ``items`` (observations, and groups of them) to ``store`` in one transaction
    (raises ``StorageError`` if the store refuses or cannot be reached)."""
    store.insert(payload(items))


class InProcess:
    """Writes batches of records in this process, on the collector's own thread (the
    SDK's collector; a server hands them to a ``monitoring.writer.WriterProcess``)."""

    def __init__(self, store: CollectionStore) -> None:
        self._store = store

    def __call__(self, records: list[bytes]) -> None:
        """Write ``records`` in one transaction (``StorageError`` if the store refuses)."""
        write_observations(self._store, wire.decode_batch(wire.batch(records)))

    def close(self, timeout_s: float = 5.0) -> None:
        """Nothing to release."""
