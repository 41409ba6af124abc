"""ASGI middleware: a request id on every answer, then the limits, before any route code.

request -> request id -> declared length over the limit? 413
        -> admission (``web.admission``): free (health), refused from the headers (401,
           403, 404: the body is never read), or admitted
        -> an admitted request takes an in-flight slot (429 with Retry-After if none)
        -> the body is read under the size limit and the read deadline (``web.body``):
           413 or 408, and the slot is given back
Every refusal is answered from the one error table (``web.errors``).
"""

from __future__ import annotations

import itertools
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelyardError, PayloadTooLarge
from modelyard.web.admission import Admission
from modelyard.web.body import BodyReader
from modelyard.web.errors import error_answer
from modelyard.web.slots import Slots

_IDS = itertools.count()
_PREFIX = secrets.token_hex(8)  # per process: ids stay unique across workers and restarts


def new_request_id() -> str:
    """A new request id (a random per-process prefix and a counter: no system call)."""
    return f"{_PREFIX}{next(_IDS):016x}"


def given_request_id(raw: list[tuple[bytes, bytes]]) -> bytes | None:
    """The client's ``x-request-id`` among the raw headers (the last one sent)."""
    given = None
    for key, value in raw:
        if key == b"x-request-id":
            given = value
    return given


def request_id(given: bytes | None) -> str:
    """The id of a request: the client's ``x-request-id`` cut to 128 characters, else a
    new one (:func:`new_request_id`)."""
    if given is None:
        return new_request_id()
    return given.decode("latin-1")[:128] or new_request_id()


class LimitsMiddleware:
    """Request ids, body limits, admission and the in-flight cap."""

    def __init__(
        self, app: ASGIApp, limits: ServeOptions, admission: Admission | None = None
    ) -> None:
        self.app = app
        self.limits = limits
        self.admission = admission
        self.slots = Slots(limits.max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("headers") or []
        headers = dict(raw)
        given = given_request_id(raw)
        tag = (b"x-request-id", request_id(given).encode())
        if given is None:  # the usual case: the list gains the id, nothing is copied
            scope["headers"] = [*raw, tag]
        else:  # the client's, cut to 128 characters; one x-request-id header left
            scope["headers"] = [(k, v) for k, v in raw if k != b"x-request-id"] + [tag]
        length = headers.get(b"content-length")
        limit = self.limits.max_body_bytes
        counts = True
        try:
            if length is not None and length.isdigit() and int(length) > limit:
                raise PayloadTooLarge(f"the body is {int(length)} bytes; the limit is {limit}")
            if self.admission is not None:
                counts = await self.admission.counts(scope)
            if counts:
                self.slots.take()
        except ModelyardError as error:
            await _answer(send, error, tag)
            return
        body = BodyReader(receive, limit, self.limits.body_timeout_s)
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if body.error is not None:  # answer what the body met, whatever was made of it
                    started = True
                    await _answer(send, body.error, tag)
                    return
                started = True
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"],
                    tag,
                ]
            elif body.error is not None:
                return  # the body of the answer replaced above
            await send(message)

        try:
            await self.app(scope, body, tagged_send)
        except ModelyardError as error:
            if started:
                raise
            await _answer(send, error, tag)
        finally:
            if counts:
                self.slots.give()


async def _answer(send: Send, error: ModelyardError, tag: tuple[bytes, bytes]) -> None:
    answer = error_answer(error)
    headers = [*[(k, v) for k, v in answer.headers if k != b"x-request-id"], tag]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
