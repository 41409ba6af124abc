"""The HTTP/1.1 server: one thread per connection, requests handed to ``Routes``.

Reads the body (Content-Length or chunked), builds an AMLRequest, writes the reply with a
Content-Length (no body for HEAD), logs one line per ``/score`` and ``/swagger.json`` call.
``drain()`` (on SIGTERM) stops accepting connections and returns once no request is being
answered; replies sent meanwhile close their connection.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from . import log
from .routes import SERVER_VERSION, Reply, Routes

MAX_BODY = 1 << 31


class _BadRequest(Exception):
    pass


class Server(ThreadingHTTPServer):
    """Counts the requests being answered, so that it can drain."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.busy = 0
        self.draining = False
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.busy += 1

    def leave(self) -> None:
        with self.lock:
            self.busy -= 1

    def drain(self, poll_s: float = 0.02) -> None:
        """Stop accepting, then wait until no request has been in flight for ``poll_s``."""
        self.draining = True
        self.shutdown()
        self.server_close()
        quiet = 0
        while quiet < 2:
            with self.lock:
                quiet = quiet + 1 if self.busy == 0 else 0
            time.sleep(poll_s)


def make_server(host: str, port: int, routes: Routes, request_class: Callable[..., Any]) -> Server:
    """A bound (not yet serving) server answering with ``routes``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return SERVER_VERSION

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is logged by _handle

        def _handle(self) -> None:
            server.enter()
            try:
                self._answer()
            finally:
                server.leave()

        def _answer(self) -> None:
            started = time.perf_counter()
            split = urlsplit(self.path)
            path = unquote(split.path, errors="replace") or "/"
            try:
                body = self._read_body()
            except _BadRequest as exc:
                self._write(Reply(400, [("Content-Type", "text/plain")], str(exc).encode()))
                self.close_connection = True
                return
            request = request_class(
                method=self.command,
                path=path,
                query_string=split.query.encode("latin-1"),
                headers=list(self.headers.items()),
                body=body,
                remote_addr=self.client_address[0],
            )
            reply = routes.respond(request)
            self._write(reply)
            if path in ("/score", "/swagger.json"):
                shown = path + ("?" + split.query if split.query else "")
                log.info(
                    f"{self.command} {shown} {reply.status} "
                    f"{(time.perf_counter() - started) * 1e3:0.3f}ms {len(reply.body)}"
                )

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = self.headers.get("Content-Length")
            if not length:
                return b""
            try:
                size = int(length)
            except ValueError:
                raise _BadRequest("Invalid Content-Length") from None
            if size < 0 or size > MAX_BODY:
                raise _BadRequest("Invalid Content-Length")
            return self.rfile.read(size)

        def _read_chunked(self) -> bytes:
            parts: list[bytes] = []
            while True:
                line = self.rfile.readline(65537).split(b";")[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _BadRequest("Invalid chunk size") from None
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)

        def _write(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if server.draining:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

    server = Server((host, port), Handler)
    return server


def bound_port(server: ThreadingHTTPServer) -> tuple[str, int]:
    address: tuple[Any, ...] = server.server_address
    return str(address[0]), int(address[1])
