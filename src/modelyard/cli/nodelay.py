"""uvicorn's HTTP protocol with Nagle's algorithm off on every connection.

With ``--workers N`` uvicorn binds the listening socket itself with protocol number 0,
so asyncio (which sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP) leaves
Nagle on for accepted connections. A response written as head then body then waits for
the client's delayed ACK: 40 ms per request, ~360 requests/s on 16 connections whatever
the app. Setting the option when a connection is made restores one-worker latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # httptools is optional in uvicorn: fall back to h11
    _Base = H11Protocol  # type: ignore[assignment,misc]


class NoDelayHTTPProtocol(_Base):
    """uvicorn's fastest available HTTP/1.1 protocol, with ``TCP_NODELAY`` set."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Turn Nagle off, then serve as usual."""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
