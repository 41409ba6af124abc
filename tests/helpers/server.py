"""A real uvicorn server on a free loopback port, in a thread, for HTTP tests: the HTTP
protocol of ``modelyard serve`` (its head limit and scoring lane) unless told otherwise."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from modelyard.cli.protocol import http_protocol


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(app: FastAPI, port: int | None = None, *, lane: bool = True) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port unless given) until the block ends; yields
    the base URL. ``lane=False``: uvicorn's own HTTP protocol, without the scoring lane."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        http=http_protocol() if lane else "httptools",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
