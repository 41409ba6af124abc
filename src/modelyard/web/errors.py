"""The one table from error to HTTP status, and the handlers that answer with JSON.

Every error body is ``{"code": …, "message": …}`` plus the error's details (row,
column, expected, …). Nothing but a bug answers 500, and a bug's answer names the
request id to look for in the server log, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelyard import errors as e

log = logging.getLogger("modelyard.web")

STATUS: list[tuple[type[e.ModelyardError], int]] = [
    (e.Unauthorized, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.EnvironmentBuildFailed, 422),
    (e.InvalidInput, 400),
    (e.ConfigError, 400),
    (e.Conflict, 409),
    (e.Overloaded, 429),
    (e.ModelUnavailable, 503),
    (e.StorageError, 503),
    (e.SourceError, 502),
    (e.ScoringTimeout, 504),
    (e.ArtifactError, 500),
]
_CLIENT_CODES = {"bad_value", "missing_column", "bad_row_length", "ragged_columns"}

ErrorShape = Callable[[e.ModelyardError, int], dict[str, Any]]
"""A wire protocol's own error body (MLflow, Open Inference, Studio classic) for an error
and its status."""


def status_of(error: e.ModelyardError) -> int:
    """The HTTP status for ``error`` (a 422 for values that do not fit the signature)."""
    if isinstance(error, e.InvalidInput) and error.code in _CLIENT_CODES:
        return 422
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(
    error: e.ModelyardError,
    headers: dict[str, str] | None = None,
    *,
    shape: ErrorShape | None = None,
) -> JSONResponse:
    """The JSON answer for ``error``; in a protocol's own ``shape`` if given, where a
    value that does not fit the signature is a 400, as those protocols answer it."""
    extra = dict(headers or {})
    status = status_of(error)
    if shape is not None and status == 422:
        status = 400
    if status in (429, 503):
        extra.setdefault("Retry-After", "1")
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="modelyard"')
    body = error.to_dict() if shape is None else shape(error, status)
    return JSONResponse(body, status_code=status, headers=extra)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(e.ModelyardError)
    async def _modelyard(request: Request, exc: e.ModelyardError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see /docs for the routes"
        return JSONResponse({"code": code, "message": message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return JSONResponse({"code": "invalid_request", "message": message}, status_code=422)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.headers.get("x-request-id", "")
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"code": "internal", "message": f"internal error; request id {request_id}"},
            status_code=500,
        )
