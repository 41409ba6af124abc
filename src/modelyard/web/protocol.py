"""The HTTP/1.1 protocol every ``modelyard serve`` and ``modelyard up`` worker speaks:
uvicorn's httptools protocol with Nagle's algorithm off and a limit on the request head.

Nagle: asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP, so on a
listening socket made with protocol number 0 (uvicorn's ``--workers`` socket was, in some
releases) it leaves Nagle on for accepted connections, and a response written as head
then body waits 40 ms for the client's delayed ACK. Setting the option when a connection
is made holds whatever socket the connection came from.

The head limit: httptools buffers a header value until it ends, so a client could send a
200 MB header without any key and the worker would hold it all. The request line and
headers together may take :data:`MAX_HEAD_BYTES`; past it the connection gets a 431 from
the error table and is closed, before any application code runs.

The scoring lane: a model endpoint's scoring request that needs no wait is answered here,
without an ASGI cycle (:mod:`modelyard.web.lane`, found in the lifespan state); anything
the lane declines goes to the app as usual, its body in hand.

The CLI names this class by import string (it never imports the web layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from modelyard.errors import HeadersTooLarge, InternalError
from modelyard.serving.dataplane import Answer, Later
from modelyard.serving.scorer import Scorer
from modelyard.web.auth import loopback_server
from modelyard.web.body import Watch, body_timeout
from modelyard.web.errors import error_response
from modelyard.web.fast import CHOSEN, Found
from modelyard.web.lane import LANE, LATER, Lane
from modelyard.web.lifecycle import DRAIN, Drain

MAX_HEAD_BYTES = 64 * 1024


class _DefaultHeaders:
    """uvicorn's default headers (``server``, ``date``) as the bytes of a head, made again
    only when uvicorn replaces its list (once a second, for the date)."""

    def __init__(self) -> None:
        # one tuple, replaced whole: servers in threads of one process (the tests') share it
        self._last: tuple[list[tuple[bytes, bytes]] | None, bytes] = (None, b"")

    def of(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The bytes of ``headers``, each ``name: value\\r\\n``."""
        last = self._last
        if last[0] is headers:
            return last[1]
        made = b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
        self._last = (headers, made)
        return made


_DEFAULTS = _DefaultHeaders()


@dataclass(slots=True, eq=False)
class _Pending:
    """A request the lane took, its body being read."""

    found: Found
    query: bytes | None
    length: int  # its Content-Length
    since: float  # time.perf_counter() when its head was whole
    body: bytearray = field(default_factory=bytearray)
    slot: bool = False  # holds an in-flight slot while its body comes
    refused: bool = False  # answered 408 at its deadline: the rest of its body is dropped


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
        self._lane: Lane | None = self.app_state.get(LANE)
        self._drain: Drain | None = self.app_state.get(DRAIN)
        if self.access_log and self.access_logger.isEnabledFor(logging.INFO):
            self._lane = None  # uvicorn's access log line is written by its cycle
        self._loopback = loopback_server(self.server)
        self._pending: _Pending | None = None  # the lane request being read
        self.deadline: float | None = None  # loop time: a lane body still coming by then
        self._closing = False  # shut down while a lane body was coming: close once answered
        self._dropping = False  # a request after the connection closed: never answered

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
        elif self._pending is not None and self.deadline is None and not self._pending.refused:
            self._wait(self._pending)  # the body did not come with its head

    def on_headers_complete(self) -> None:
        """The head is whole: refuse it if it is over the limit, else serve."""
        self._in_head = False
        self._unset_keepalive_if_required()  # a lane answer earlier in this read armed it
        size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
        if size > self.max_head_bytes:
            self._over = True
            raise _HeadOverLimit  # httptools hands it to data_received as a parser error
        if self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._dropping = True  # closed by an answer earlier in this read: never started
            return
        if self._lane is None or not self._takes():
            super().on_headers_complete()

    def _takes(self) -> bool:
        """Whether the lane takes this request (then its body is buffered here): a POST to
        a model endpoint's scoring route, with a Content-Length within the lane's limit,
        over HTTP/1.1, nothing pending on the connection, no ``Expect``."""
        lane = self._lane
        assert lane is not None
        if self.parser.get_method() != b"POST" or self.expect_100_continue:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False  # pipelined behind a request still answering: queued by uvicorn
        if self.parser.get_http_version() != "1.1" or self.parser.should_upgrade():
            return False
        length = b""
        for name, value in self.headers:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding" or (name == b"origin" and lane.cors):
                return False  # chunked, or a CORS request: the app's
        if not length.isdigit() or int(length) > lane.max_body_bytes:
            return False
        url = httptools.parse_url(self.url)
        path = url.path.decode("ascii")
        if "%" in path:
            return False
        found = lane.route(self.root_path + path)
        if found is None:
            return False
        self._pending = _Pending(found, url.query, int(length), time.perf_counter())
        return True

    def _wait(self, pending: _Pending) -> None:
        """Admit a lane request whose body is still coming, as the app admits a body it
        has yet to read: its key, then an in-flight slot held until the body is whole or
        its deadline passes. A refusal goes to the app, which answers it from the head."""
        lane = self._lane
        assert lane is not None
        try:
            admitted = lane.admits(pending, self.headers, self._loopback)
        except Exception:  # a bug, not the client's
            self.logger.exception("the scoring lane failed")
            self._pending = None
            self._internal_error()
            return
        if not admitted:
            self._pending = None
            self._to_app(pending.body, whole=False)
            return
        pending.slot = True
        self.deadline = self.loop.time() + lane.body_timeout_s
        Watch.of(self.loop).enter(self)

    def on_body(self, body: bytes) -> None:
        """Buffer a lane request's body; else uvicorn's own."""
        pending = self._pending
        if self._dropping:
            return
        if pending is None:
            super().on_body(body)
        elif not pending.refused:  # the rest of a body refused at its deadline is dropped
            pending.body.extend(body)

    def on_message_complete(self) -> None:
        """Answer a lane request; then the next bytes on this connection start a new head."""
        pending = self._pending
        if self._dropping:
            self._dropping = False
        elif pending is None:
            super().on_message_complete()
        else:
            self._pending = None
            if not pending.refused:
                self._settle(pending)
                self._answer(pending)
        self._in_head = True
        self._head_bytes = 0

    def _settle(self, pending: _Pending) -> None:
        """The wait of ``pending`` is over: out of the watch, its slot given back."""
        if self.deadline is not None:
            self.deadline = None
            Watch.of(self.loop).leave(self)
        if pending.slot:
            pending.slot = False
            assert self._lane is not None
            self._lane.released(pending)

    def _answer(self, pending: _Pending) -> None:
        """Write the lane's answer, or hand the request to the app with its body."""
        lane = self._lane
        assert lane is not None
        drain = self._drain
        answer: Answer | Later = LATER
        # draining: the app's answer says Connection: close; a client not reading its
        # answers: the app's cycle waits for it to read before writing more
        if not self.flow.write_paused and not (drain and drain.draining):
            try:
                answer = lane.answer(pending, self.headers, bytes(pending.body), self._loopback)
            except Exception:  # a bug of the lane's own (the pipeline never raises)
                self.logger.exception("the scoring lane failed")
                self._internal_error()
                return
        if isinstance(answer, Later):
            self._to_app(pending.body, whole=True, chosen=answer.chosen)
            return
        self._write(answer, keep_alive=self.parser.should_keep_alive())
        answer.done()

    def _write(self, answer: Answer, *, keep_alive: bool) -> None:
        """Write a lane answer as uvicorn's cycle would: its default headers first."""
        keep_alive = keep_alive and not self._closing
        content = [STATUS_LINE[answer.status], _DEFAULTS.of(self.server_state.default_headers)]
        for name, value in answer.headers:
            content += (name, b": ", value, b"\r\n")
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content.extend((b"\r\n", answer.body))
        self.transport.write(b"".join(content))
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # counted; the keep-alive timer armed

    def _to_app(self, body: bytearray, *, whole: bool, chosen: Scorer | None = None) -> None:
        """Hand the lane's request to the app as uvicorn would have at its head, with the
        body so far (and, if the lane's route step ran, the scorer it chose)."""
        HttpToolsProtocol.on_headers_complete(self)  # the cycle the head would have made
        if chosen is not None:
            self.scope[CHOSEN] = chosen  # type: ignore[literal-required]
        if self._closing:
            self.cycle.keep_alive = False
        self.cycle.body = body
        if whole:
            super().on_message_complete()
        else:
            self.cycle.message_event.set()

    def expire(self) -> None:
        """The body of a lane request did not come whole within the deadline: 408 from
        the error table, as the app answers it; the rest of the body is dropped."""
        pending = self._pending
        if pending is None or pending.refused or self.transport.is_closing():
            return
        self._settle(pending)
        pending.refused = True
        lane = self._lane
        assert lane is not None
        try:
            error = body_timeout(lane.body_timeout_s, len(pending.body))
            answer = lane.refused(pending, self.headers, error)
        except Exception:  # a bug, not the client's: it still gets an answer
            self.logger.exception("the scoring lane failed")
            self._internal_error()
            return
        drain = self._drain  # draining: the app's 408 says Connection: close too
        keep_alive = self.parser.should_keep_alive() and not (drain and drain.draining)
        self._write(answer, keep_alive=keep_alive)

    def connection_lost(self, exc: Exception | None) -> None:
        """The client went: a lane body it was sending is not waited for any more."""
        if self._pending is not None:
            self._settle(self._pending)
            self._pending = None
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Graceful shutdown: a lane request whose body is still coming is answered (by
        the lane or the app), then the connection closes; else uvicorn's own."""
        if self._pending is not None and not self._pending.refused:
            self._closing = True
            return
        super().shutdown()

    def _internal_error(self) -> None:
        answer = error_response(InternalError("internal error in the scoring lane"))
        self._write_and_close(answer)

    def _refuse_head(self) -> None:
        error = HeadersTooLarge(
            f"the request line and headers are over {self.max_head_bytes // 1024} KiB: "
            "send a shorter URL and fewer or smaller headers"
        )
        self._write_and_close(error_response(error))
        self._in_head = False

    def _write_and_close(self, answer: Response) -> None:
        status = answer.status_code
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
        lines += [k + b": " + v for k, v in answer.raw_headers]
        lines.append(b"connection: close")
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(answer.body))
        self.transport.close()
