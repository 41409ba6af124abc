"""Entry-script endpoints on the data plane: check the key, then hand the request to a
worker of the endpoint's own processes and give back exactly what it answered.

The worker speaks azureml-inference-server-http's routes (``/score``, ``/``,
``/swagger.json``), so status, content type, body and the ``x-ms-*`` headers are the
ones Azure ML clients already handle. The caller's key never reaches user code.
"""

from __future__ import annotations

import httpx
from fastapi import Request
from fastapi.responses import Response

from modelyard.config.serve import ServeOptions
from modelyard.deployments.entry.deployment import ScriptDeployment
from modelyard.errors import ModelUnavailable, ScoringTimeout

# set by the proxy on a keyless OPTIONS (a CORS preflight): the host then answers it
# without calling run(), so no user code runs for a caller without the key
ANONYMOUS = "x-modelyard-anonymous"
DROPPED = {
    ANONYMOUS,  # only the proxy sets it, never a client
    "authorization",
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authorization",
    "content-length",
}
ROUTES = {"score": "/score", "health": "/", "swagger": "/swagger.json"}


class ScriptProxy:
    """One pooled HTTP client to every local entry-script worker."""

    def __init__(self, limits: ServeOptions) -> None:
        self._limits = limits
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """The shared client (made on first use, inside the running loop)."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(60.0),
                limits=httpx.Limits(max_connections=256),
                trust_env=False,
            )
        return self._client

    async def forward(
        self, request: Request, deployment: ScriptDeployment, route: str, *, anonymous: bool = False
    ) -> Response:
        """Send ``request`` to a ready worker's ``route``; answer what the worker answered.

        ``anonymous``: the caller showed no valid key (only OPTIONS gets this far so).
        """
        port = deployment.pick()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROPPED]
        if anonymous:
            headers.append((ANONYMOUS, "1"))
        timeout_s = deployment.spec.timeout_ms / 1000 + 5
        url = f"http://127.0.0.1:{port}{ROUTES[route]}"
        try:
            answer = await self.client().request(
                request.method,
                url,
                params=list(request.query_params.multi_items()),
                headers=headers,
                content=b"" if anonymous else await request.body(),  # no key: body unread
                timeout=min(timeout_s, self._limits.timeout_s + 5),
            )
        except httpx.TimeoutException:
            raise ScoringTimeout(
                f"endpoint {deployment.name}'s entry script did not answer"
            ) from None
        except httpx.TransportError as exc:
            raise ModelUnavailable(
                f"endpoint {deployment.name}'s worker is restarting ({type(exc).__name__}): retry"
            ) from None
        passed = [
            (k, v)
            for k, v in answer.headers.multi_items()
            if k.lower() not in DROPPED and k.lower() not in ("server", "date", "content-encoding")
        ]
        response = Response(content=answer.content, status_code=answer.status_code)
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in passed] + [
            (b"content-length", str(len(answer.content)).encode())
        ]
        return response

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._client is not None:
            await self._client.aclose()
