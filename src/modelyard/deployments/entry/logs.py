"""An endpoint's log lines, buffered and written to the registry in the background.

Environment builds and entry-script output can be chatty; lines are batched every
half second so a slow registry never slows the child that prints them. If the
registry is down the lines stay in the local tail and the loss is counted.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque

from modelyard.errors import ModelyardError
from modelyard.storage.endpoints import EndpointStore

FLUSH_S = 0.5
TAIL = 500


class LogSink:
    """Collects ``(stream, line)`` pairs of one endpoint and flushes them to its log."""

    def __init__(self, store: EndpointStore, endpoint: str, replica: str) -> None:
        self._store = store
        self.endpoint = endpoint
        self.replica = replica
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.tail: deque[str] = deque(maxlen=TAIL)
        self.lost = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"logs-{endpoint}", daemon=True)
        self._thread.start()

    def __call__(self, stream: str, line: str) -> None:
        """Record one line."""
        with self._lock:
            self._pending.append((stream, line))
            self.tail.append(line)

    def flush(self) -> None:
        """Write what is pending now."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._store.append_logs(self.endpoint, self.replica, batch)
        except ModelyardError:
            self.lost += len(batch)

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self.flush()

    def close(self) -> None:
        """Flush once more and stop the background writer."""
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(ModelyardError):
            self.flush()
