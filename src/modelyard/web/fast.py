"""The hot route without the framework: ``POST /endpoints/E/score`` with a JSON body for
a model endpoint, answered in plain ASGI.

Everything it does is what the FastAPI route does, through the same functions (key check,
codec, scorer, error table); it only skips routing, dependency solving and the request and
response objects, which were most of a one-row request's cost once the model itself runs
compiled in microseconds. Anything else (another route, another content type, an entry
script, a micro-batched endpoint, a missing or wrong key) goes to the FastAPI app
untouched, which gives the canonical answer.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.secret import Secret
from modelyard.config.serve import ServeOptions
from modelyard.errors import ModelyardError
from modelyard.serving.protocols.common import JSON, dumps, jsonable, media_type, parse_json
from modelyard.serving.protocols.tabular import decode_json_columns
from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Scorer
from modelyard.storage.endpoints import EndpointRecord
from modelyard.web.auth import bearer_token, keys_required, opens
from modelyard.web.errors import error_response
from modelyard.web.scoring import score_decoded

SCORE_PATH = re.compile(r"^/endpoints/([^/]+)/score$")
UTF8 = ("utf-8", "utf8")


class FastScore:
    """ASGI middleware answering the common scoring request itself."""

    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        admin_key: Secret | None,
        require_keys: bool,
        limits: ServeOptions,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.admin_key = admin_key
        self.require_keys = require_keys
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = SCORE_PATH.match(scope["path"])
        found = self._scorer(match.group(1), scope) if match is not None else None
        if found is None:
            await self.app(scope, receive, send)
            return
        body = b""
        try:
            body = await _read(receive)  # over the limit: PayloadTooLarge, a 413 below
            payload, headers = await self._score(*found, body, _request_id(scope))
        except ModelyardError as error:  # the same table the routes' handler uses
            await error_response(error)(scope, _replay(body), send)
            return
        except Exception:  # a bug: the framework's handler logs it and answers 500 JSON
            await self.app(scope, _replay(body), send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _scorer(self, name: str, scope: Scope) -> tuple[EndpointRecord, Scorer] | None:
        """The endpoint and scorer if this request is the common case (JSON, a model
        endpoint with a signature and no micro-batching, a key that opens it), else None."""
        headers = dict(scope["headers"])
        kind, params = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        if kind not in ("", JSON) or params.get("charset", "utf-8").lower() not in UTF8:
            return None
        try:
            record = self.runtime.record(name)
            if record.kind != "model" or record.options.get("batch"):
                return None
            _, scorer = self.runtime.endpoint(name)
        except ModelyardError:
            return None
        if scorer.signature is None:
            return None
        if not keys_required(record, self.require_keys, self.limits):
            return record, scorer
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        if token is None or not opens(record, token, self.admin_key):
            return None
        return record, scorer

    async def _score(
        self, record: EndpointRecord, scorer: Scorer, body: bytes, request_id: str
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        signature = scorer.signature
        assert signature is not None
        scored = await score_decoded(
            self.runtime,
            record,
            scorer,
            lambda: decode_json_columns(parse_json(body), signature),
            request_id=request_id,
            timeout_s=self.limits.timeout_s,
        )
        document: dict[str, Any] = {"predictions": jsonable(scored.predictions)}
        if scored.classes is not None:
            document["classes"] = scored.classes
        payload = dumps(document)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-model-version", str(scored.version.version).encode()),
            (b"x-model-name", scored.version.name.encode()),
        ]
        return payload, headers


def _request_id(scope: Scope) -> str:
    """The request id the limits middleware put in the headers."""
    for key, value in scope.get("headers") or ():
        if key == b"x-request-id":
            return str(value.decode("latin-1"))
    return ""


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


def _replay(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
