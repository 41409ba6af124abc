"""``/metrics`` and the middleware that counts every scoring request for it.

The middleware sits outside the limits (a 413 or 429 is counted too) and reads what it
labels from the request path and the answer: the endpoint (a name the replica serves, else
``(unknown)``), the protocol (``azureml`` for ``/endpoints/E/score`` and its version and
alias forms, ``mlflow``, ``classic``, ``v2``), the status and the answering version
(``x-model-version``).

The scoring lane (``web.lane``) counts the requests it answers itself, with the same
labels (``TALLY.end(..., begun=False)``).

``/metrics`` answers loopback without a key; any other address needs the admin key, unless
``[serve] metrics_public = true``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.secret import Secret
from modelyard.config.serve import is_loopback
from modelyard.errors import Unauthorized
from modelyard.monitoring import tally
from modelyard.monitoring.prometheus import UNKNOWN, exposition
from modelyard.monitoring.tally import TALLY
from modelyard.web.auth import bearer, is_admin

SCORING = re.compile(
    r"^/(?:endpoints/(?P<e>[^/@]+)(?:@[^/]+)?(?:/versions/[^/]+)?/(?P<route>score|invocations|execute)"
    r"|v2/models/(?P<m>[^/@]+)(?:@[^/]+)?(?:/versions/[^/]+)?/infer)$"
)
PROTOCOLS = {"score": "azureml", "invocations": "mlflow", "execute": "classic", None: "v2"}


class RequestMetrics:
    """ASGI middleware: counts, times and sizes each scoring request (POST)."""

    def __init__(self, app: ASGIApp, serves: Callable[[str], bool]) -> None:
        """``serves(name)`` says (from memory, never the database) whether this replica
        serves endpoint ``name``: other names are counted as ``(unknown)``."""
        self.app = app
        self.serves = serves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = SCORING.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        name = match["e"] or match["m"]
        endpoint = name if self.serves(name) else UNKNOWN
        protocol = PROTOCOLS[match["route"]]
        started = time.perf_counter()
        length = _content_length(scope)
        received = length or 0  # what was sent, if the body is never read
        read = 0
        sent = 0
        status = 500
        version = ""

        async def counted_receive() -> Message:
            nonlocal received, read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                received = max(received, read)
            return message

        async def counted_send(message: Message) -> None:
            nonlocal sent, status, version
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", ()):
                    if key == b"x-model-version":
                        version = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        TALLY.begin(protocol)
        try:
            # with a Content-Length the body is that long (HTTP's framing): no need to
            # count its messages; a chunked body is counted as it is read
            await self.app(scope, receive if length is not None else counted_receive, counted_send)
        finally:
            seconds = time.perf_counter() - started
            TALLY.end(protocol, endpoint, version, status, seconds, received, sent)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            return int(value) if value.isdigit() else 0
    return None


def router(admin_key: Secret | None, public: bool) -> APIRouter:
    """``GET /metrics`` (Prometheus' text format)."""
    api = APIRouter(tags=["metrics"])

    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client is not None else ""
        if not public and not is_loopback(client) and not is_admin(bearer(request), admin_key):
            raise Unauthorized(
                "/metrics answers loopback without a key; from elsewhere send the admin key "
                "('Authorization: Bearer <admin key>') or set [serve] metrics_public = true"
            )
        tally.flush()  # this worker's latest counts; the others' are at most FLUSH_S old
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return api
