"""The HTTP/1.1 protocol every ``modelyard serve`` and ``modelyard up`` worker speaks:
uvicorn's httptools protocol with Nagle's algorithm off and a limit on the request head.

Nagle: with ``--workers N`` uvicorn binds the listening socket itself with protocol number
0, so asyncio (which sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP) leaves
Nagle on for accepted connections, and a response written as head then body waits 40 ms
for the client's delayed ACK. Setting the option when a connection is made fixes it.

The head limit: httptools buffers a header value until it ends, so a client could send a
200 MB header without any key and the worker would hold it all. The request line and
headers together may take :data:`MAX_HEAD_BYTES`; past it the connection gets a 431 from
the error table and is closed, before any application code runs.

The CLI names this class by import string (it never imports the web layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from http import HTTPStatus

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelyard.errors import HeadersTooLarge
from modelyard.web.errors import error_response

MAX_HEAD_BYTES = 64 * 1024


class _HeadOverLimit(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


class ServerProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``TCP_NODELAY`` and a request-head size limit."""

    max_head_bytes = MAX_HEAD_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Turn Nagle off, then serve as usual."""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._in_head = True
        self._over = False
        self._head_bytes = 0
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting the bytes of a head still arriving; past the limit,
        answer 431 and close. (uvicorn's own, with the limit added.)"""
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._over:
                self._refuse_head()
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        over = self._in_head and self._head_bytes > self.max_head_bytes
        if over and not self.transport.is_closing():
            self._refuse_head()

    def on_headers_complete(self) -> None:
        """The head is whole: refuse it if it is over the limit, else serve."""
        self._in_head = False
        size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
        if size > self.max_head_bytes:
            self._over = True
            raise _HeadOverLimit  # httptools hands it to data_received as a parser error
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next bytes on this connection start a new head."""
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _refuse_head(self) -> None:
        error = HeadersTooLarge(
            f"the request line and headers are over {self.max_head_bytes // 1024} KiB: "
            "send a shorter URL and fewer or smaller headers"
        )
        answer = error_response(error)
        status = answer.status_code
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
        lines += [k + b": " + v for k, v in answer.raw_headers]
        lines.append(b"connection: close")
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(answer.body))
        self.transport.close()
        self._in_head = False
