"""The hot routes without the framework: plain ASGI in front of the FastAPI app.

A scoring request of a model endpoint (``POST /endpoints/E[@alias][/versions/V]/score``,
``/invocations``,
``/execute``, ``/v2/models/E[/versions/V]/infer``) goes straight to the data plane's
pipeline with the same codec the FastAPI route uses; routing, dependency
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
from modelyard.serving.protocols import azureml, classic, mlflow
from modelyard.serving.protocols.codec import Codec, Head
from modelyard.serving.protocols.v2 import V2Codec
from modelyard.web.admission import ADMITTED, request_headers
from modelyard.web.auth import on_loopback

Routes = list[tuple[re.Pattern[str], Codec]]
Found = tuple[dict[str, str], Codec]  # a route's path parameters and codec
CHOSEN = "modelyard.chosen"  # scope key: the scorer the scoring lane routed a request to


def routes(max_body_bytes: int) -> Routes:
    """The scoring routes and their codecs (the FastAPI routes' own, path for path)."""
    v2 = V2Codec(max_body_bytes)
    return [
        (re.compile(r"^/endpoints/(?P<name>[^/]+)/score$"), azureml.CODEC),
        (
            re.compile(r"^/endpoints/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/score$"),
            azureml.CODEC,
        ),
        (re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$"), mlflow.CODEC),
        (re.compile(r"^/endpoints/(?P<name>[^/]+)/execute$"), classic.CODEC),
        (re.compile(r"^/v2/models/(?P<name>[^/]+)/infer$"), v2),
        (re.compile(r"^/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/infer$"), v2),
    ]


class FastScore:
    """ASGI middleware answering the data plane's scoring routes itself."""

    def __init__(self, app: ASGIApp, plane: DataPlane, max_body_bytes: int) -> None:
        self.app = app
        self.plane = plane
        self.routes = routes(max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        found = model_route(self.routes, self.plane, scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        params, codec = found
        name = params["name"]
        headers = request_headers(scope)
        admitted = scope.get(ADMITTED)
        query = query_params(scope.get("query_string"))
        head = Head(headers, query, params, on_loopback(scope), admitted)

        async def read() -> bytes:
            return await _read(receive)

        request_id = headers.get("x-request-id", "")
        answer = await self.plane.handle(name, codec, head, read, request_id, scope.get(CHOSEN))
        start = {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
        await send(start)
        await send({"type": "http.response.body", "body": answer.body})
        answer.done()


def model_route(table: Routes, plane: DataPlane, path: str) -> Found | None:
    """The path parameters and codec of ``path`` in ``table`` when it names a model
    endpoint's scoring route; None for another path or an entry script's endpoint."""
    for pattern, codec in table:
        match = pattern.match(path)
        if match is not None:
            params = match.groupdict()
            if plane.runtime.serves_script(params["name"]):
                return None
            return params, codec
    return None


def query_params(raw: bytes | None) -> dict[str, str]:
    """The query string's parameters (the last of a repeated name), blanks kept."""
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
