"""CORS for the scoring routes, when ``[serve] cors_origins`` lists origins.

Starlette's ``CORSMiddleware`` answers preflights (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) itself, before any key check: browsers send them
without ``Authorization``. A refused preflight is a 400 with a JSON body (``code``
``cors_refused``) like every other error. With no origins listed nothing is added, so
the hot path stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from modelyard.errors import CorsRefused
from modelyard.web.errors import error_response

METHODS = ("GET", "POST", "OPTIONS")
HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "X-Request-Id",
    "X-Ms-Client-Request-Id",
    "X-Ms-Request-Id",
    "TraceId",
)
EXPOSED = (
    "x-request-id",
    "x-model-name",
    "x-model-version",
    "x-ms-request-id",
    "x-ms-client-request-id",
    "x-ms-run-function-failed",
)


class ScoringCors(CORSMiddleware):
    """Starlette's CORS middleware whose refused preflights answer JSON."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=list(METHODS),
            allow_headers=list(HEADERS),
            expose_headers=list(EXPOSED),
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refusal keeps its CORS headers and says why in JSON."""
        answer = super().preflight_response(request_headers)
        if answer.status_code == 200:
            return answer
        kept = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in answer.raw_headers
            if k.lower() not in (b"content-type", b"content-length")
        }
        message = bytes(answer.body).decode()  # "Disallowed CORS origin, method"
        return error_response(CorsRefused(message), kept)
