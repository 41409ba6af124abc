"""A real HTTP receiver of webhooks, and the leading scheduler that sends them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from modelyard import Workspace


@dataclass
class Receiver:
    """Records what it accepted; answers 500 to the first ``failures`` calls."""

    failures: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@contextmanager
def receiving(failures: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(failures=failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.lock:
                fail = receiver.refused < receiver.failures
                if fail:
                    receiver.refused += 1
                else:
                    receiver.accepted.append(
                        {"headers": dict(self.headers), "body": body, "json": json.loads(body)}
                    )
            self.send_response(500 if fail else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def leading_scheduler(ws: Workspace, tick_s: float = 0.1) -> Iterator[None]:
    """The workspace's scheduler (it leads: nobody else runs one) in a thread."""
    stop = threading.Event()
    thread = threading.Thread(target=ws.queue.scheduler(tick_s=tick_s).run, args=(stop,))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
