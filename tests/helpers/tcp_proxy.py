"""A TCP forwarder on 127.0.0.1 in front of a real server, which a test can cut and
restore: a database outage without stopping the shared database server.

While cut, every open connection is reset and new ones are closed at once, as a
database that went away would do to its clients.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream``; ``cut()`` and ``restore()``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._down = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.refused = 0  # connections closed at once while cut
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until ``restore()``."""
        self._down.set()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock, reset=True)

    def restore(self) -> None:
        """Forward again."""
        self._down.clear()

    def close(self) -> None:
        """Stop listening and close everything."""
        self._closed.set()
        self.cut()
        _close(self._listener, reset=False)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._down.is_set():
                self.refused += 1
                _close(client, reset=True)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client, reset=True)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source, reset=False)
            _close(sink, reset=False)


def _close(sock: socket.socket, *, reset: bool) -> None:
    with contextlib.suppress(OSError):
        if reset:  # RST, not FIN: the peer sees "connection reset", as on a crash
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def proxied(upstream_host: str, upstream_port: int) -> Iterator[TcpProxy]:
    """A running proxy for the block."""
    proxy = TcpProxy(upstream_host, upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()
