"""The hot routes without the framework: plain ASGI in front of the FastAPI app.

A scoring request of a model endpoint (``POST /endpoints/E/score``) goes straight to the
data plane's pipeline with the same codec the FastAPI route uses; routing, dependency
solving and the request and response objects, most of a one-row request's cost once the
model runs compiled in microseconds, are skipped. Everything the pipeline answers is
final, errors and bugs included: a request is never replayed into the framework, so a
model runs at most once per request. Any other request (another route, an entry script's
endpoint, a non-POST method) goes to the FastAPI app untouched, its body unread.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.serving.dataplane import DataPlane
from modelyard.serving.protocols.azureml import CODEC
from modelyard.serving.protocols.codec import Codec, Head

ROUTES: list[tuple[re.Pattern[str], Codec]] = [
    (re.compile(r"^/endpoints/([^/]+)/score$"), CODEC),
]


class FastScore:
    """ASGI middleware answering the data plane's scoring routes itself."""

    def __init__(self, app: ASGIApp, plane: DataPlane) -> None:
        self.app = app
        self.plane = plane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        found = _route(scope["path"])
        if found is None or self.plane.runtime.serves_script(found[0]):
            await self.app(scope, receive, send)
            return
        name, codec = found
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        head = Head(headers, _query(scope), {"name": name})

        async def read() -> bytes:
            return await _read(receive)

        answer = await self.plane.handle(name, codec, head, read, headers.get("x-request-id", ""))
        start = {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        await send(start)
        await send({"type": "http.response.body", "body": answer.body})
        answer.done()


def _route(path: str) -> tuple[str, Codec] | None:
    for pattern, codec in ROUTES:
        match = pattern.match(path)
        if match is not None:
            return match.group(1), codec
    return None


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
