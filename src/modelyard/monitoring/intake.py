"""Where entry scripts' ``ModelDataCollector`` rows enter the collector.

Each collecting entry-script endpoint gets a Unix socket of its own in a private folder
(0700) of the replica; its worker processes send one JSON line per ``collect()`` call
(see the shim's ``azureml.monitoring``). The endpoint is the socket's, never a name the
script sends, so a script cannot write rows for another endpoint. Each line becomes an
``Observation`` offered to the replica's collector, like a model endpoint's scored rows.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socketserver
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation
from modelyard.storage.schema import utcnow

log = logging.getLogger("modelyard.monitoring")
MAX_LINE = 64 * 1024 * 1024


def _observation(endpoint: str, message: dict[str, Any]) -> Observation:
    names = [str(n) for n in message.get("names") or []]
    rows = message.get("rows") or []
    version = str(message.get("version", ""))
    try:
        at = datetime.fromisoformat(str(message["time"]))
    except (KeyError, ValueError):
        at = utcnow()
    return Observation(
        endpoint=endpoint,
        request_id=str(message.get("correlation_id") or "")[:128],
        scored_at=at if at.tzinfo is not None else utcnow(),
        source="collector",
        designation=str(message.get("designation") or "default")[:64],
        model=str(message.get("model") or "")[:128] or None,
        version=int(version) if version.isdigit() else None,
        inputs=[dict(zip(names, row, strict=False)) for row in rows if isinstance(row, list)],
    )


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    endpoint = ""
    collector: Collector


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            try:
                message = orjson.loads(line)
                observation = _observation(self.server.endpoint, message)
            except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
                log.warning("collection: an unreadable line from %s's script", self.server.endpoint)
                continue
            self.server.collector.count_dropped(int(message.get("dropped") or 0))
            if observation.inputs:
                self.server.collector.offer(observation)


class Intake:
    """The sockets of this replica's collecting entry-script endpoints."""

    def __init__(self, collector: Collector) -> None:
        self._collector = collector
        self._folder = Path(tempfile.mkdtemp(prefix="modelyard-collect-"))
        self._servers: dict[str, tuple[Path, _Server]] = {}
        self._lock = threading.Lock()

    def address(self, endpoint: str) -> str:
        """The socket path ``endpoint``'s workers send to (listening from now on)."""
        with self._lock:
            found = self._servers.get(endpoint)
            if found is None:
                path = self._folder / f"{len(self._servers)}.sock"
                server = _Server(str(path), _Handler)
                server.endpoint = endpoint
                server.collector = self._collector
                threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.5},
                    name=f"collect-{endpoint}",
                    daemon=True,
                ).start()
                found = self._servers[endpoint] = (path, server)
            return str(found[0])

    def close(self) -> None:
        """Stop listening and remove the sockets."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for _, server in servers:
            with contextlib.suppress(OSError):
                server.shutdown()
                server.server_close()
        shutil.rmtree(self._folder, ignore_errors=True)
