"""ASGI middleware: a request id on every answer, a body size limit checked before
buffering, and a cap on requests in flight (429 with Retry-After past it)."""

from __future__ import annotations

import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.serve import ServeOptions
from modelyard.errors import PayloadTooLarge


async def _reject(
    send: Send,
    status: int,
    code: str,
    message: str,
    request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = orjson.dumps({"code": code, "message": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Request ids, body limit and in-flight cap, before any route code runs."""

    def __init__(self, app: ASGIApp, limits: ServeOptions) -> None:
        self.app = app
        self.limits = limits
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        scope["headers"] = [
            (k, v) for k, v in scope.get("headers") or [] if k != b"x-request-id"
        ] + [(b"x-request-id", request_id.encode())]
        length = headers.get(b"content-length")
        limit = self.limits.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            await _reject(
                send,
                413,
                "payload_too_large",
                f"the body is {int(length)} bytes; the limit is {limit}",
                request_id,
            )
            return
        if self.in_flight >= self.limits.max_in_flight:
            await _reject(
                send,
                429,
                "overloaded",
                f"{self.in_flight} requests in flight: retry shortly",
                request_id,
                [(b"retry-after", b"1")],
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
            return message

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, limited_receive, tagged_send)
        finally:
            self.in_flight -= 1
