"""How a batch of observations is written: for each endpoint its collection rows and its
columnar block, all in one transaction (``CollectionStore.insert``)."""

from __future__ import annotations

from typing import Any

from modelyard.monitoring import blocks, wire
from modelyard.monitoring.batch import Batch
from modelyard.monitoring.observation import Observation
from modelyard.storage.collection import BlockRow, CollectionStore


def payload(observations: list[Observation]) -> list[tuple[str, list[tuple[Any, ...]], BlockRow]]:
    """Each endpoint's rows and block of a write."""
    by_endpoint: dict[str, list[Observation]] = {}
    for observation in observations:
        by_endpoint.setdefault(observation.endpoint, []).append(observation)
    out = []
    for endpoint, mine in by_endpoint.items():
        batch = Batch(mine)
        out.append((endpoint, batch.rows(), blocks.encode(batch)))
    return out


def write_observations(store: CollectionStore, observations: list[Observation]) -> None:
    """Write ``observations`` to ``store`` in one transaction (raises ``StorageError`` if
    the store refuses or cannot be reached)."""
    store.insert(payload(observations))


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
