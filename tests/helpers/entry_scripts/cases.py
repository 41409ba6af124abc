"""The requests both servers get, and what of a response must be equal between them."""

from __future__ import annotations

import re
from typing import Any

import httpx

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EXEC_MS = re.compile(r"^\d+\.\d{3}$")
JSON = {"Content-Type": "application/json"}


def post(
    body: bytes | str, headers: dict[str, str] | None = None, path: str = "/score"
) -> dict[str, Any]:
    data = body.encode() if isinstance(body, str) else body
    return {"method": "POST", "url": path, "content": data, "headers": headers or {}}


def get(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"method": "GET", "url": path, "headers": headers or {}}


def other(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"method": method, "url": path, "headers": headers or {}}


def send(base: str, request: dict[str, Any]) -> httpx.Response:
    content = request.get("content")
    if request.get("chunked"):
        content = iter([content[:3], content[3:]])  # no Content-Length: Transfer-Encoding chunked
    return httpx.request(
        request["method"],
        base + request["url"],
        content=content,
        headers=request["headers"],
        files=request.get("files"),
        timeout=30,
    )


def comparable(response: httpx.Response, sent: dict[str, str]) -> dict[str, Any]:
    """Status, Content-Type, body and the headers that must match: every ``x-ms-*``,
    ``x-request-id``, ``TraceId``, ``X-Custom``/``X-Multi``/``X-One``, ``Vary`` and the
    ``Access-Control-*`` (CORS) ones, repeated ones as lists. Ignored: x-ms-server-version's
    value, x-ms-run-fn-exec-ms's value (checked to be a float with 3 decimals), and request
    ids the server generated (checked to be uuid4s, and x-ms-request-id to repeat
    x-request-id)."""
    sent_lower = {k.lower(): v for k, v in sent.items()}
    headers: dict[str, Any] = {}
    for name in {k.lower() for k in response.headers}:
        if not (
            name.startswith(("x-ms-", "access-control-"))
            or name in ("x-request-id", "traceid", "x-custom", "x-multi", "x-one", "allow", "vary")
        ):
            continue
        values = response.headers.get_list(name)
        if name == "x-ms-server-version":
            values = ["<present>"]
        elif name == "x-ms-run-fn-exec-ms":
            assert all(EXEC_MS.match(v) for v in values), values
            values = ["<ms>"]
        elif name == "allow":
            values = [", ".join(sorted(v.replace(" ", "").split(","))) for v in values]
        elif name in ("x-request-id", "x-ms-request-id") and name not in sent_lower:
            generated = response.headers.get("x-request-id", "")
            if all(v == generated and UUID.match(v) for v in values):
                values = ["<generated uuid4>"]
        headers[name] = values
    return {
        "status": response.status_code,
        "content-type": response.headers.get_list("content-type"),
        "body": response.content,
        "headers": dict(sorted(headers.items())),
    }
