"""The one table from error to HTTP status, and the handlers that answer with JSON.

Every error body is ``{"code": …, "message": …}`` plus the error's details (row,
column, expected, …). Nothing but a bug answers 500, and a bug's answer names the
request id to look for in the server log, never a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from modelyard import errors as e
from modelyard.serving.dataplane import Answer, answer_headers
from modelyard.serving.protocols.codec import Codec
from modelyard.serving.protocols.common import JSON

log = logging.getLogger("modelyard.web")

STATUS: dict[type[e.ModelyardError], int] = {
    e.ModelyardError: 500,  # a deliberate error of no more precise kind
    e.ConfigError: 400,
    e.NotFound: 404,
    e.RunCancelled: 409,  # the run was cancelled meanwhile: the request clashes with it
    e.Conflict: 409,
    e.InvalidInput: 400,
    e.UnsupportedMediaType: 415,
    e.PayloadTooLarge: 413,
    e.HeadersTooLarge: 431,
    e.BodyTimeout: 408,
    e.EnvironmentBuildFailed: 422,
    e.ArtifactError: 500,  # what the server holds is broken, not the request
    e.SourceError: 502,
    e.StorageError: 503,
    e.ExecutorUnavailable: 503,
    e.DeliveryFailed: 502,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.Overloaded: 429,
    e.ScoringTimeout: 504,
    e.ModelUnavailable: 503,
    e.MethodNotAllowed: 405,
    e.CorsRefused: 400,
    e.InternalError: 500,
}
"""Error class -> HTTP status, resolved along the class's MRO (the nearest listed base
wins); a test walks every ``ModelyardError`` subclass and fails on one that only the
base's 500 would answer."""
_MISFITS = {"bad_value", "missing_column", "bad_row_length", "ragged_columns", "invalid_request"}
# A finite input whose prediction overflows: 422 naming the row on every route and shape.
_CLIENT_CODES = {*_MISFITS, "prediction_not_finite"}

ErrorShape = Callable[[e.ModelyardError, int], dict[str, Any] | None]
"""A wire protocol's own error body (MLflow, Open Inference, Studio classic) for an error
and its status; None for modelyard's ``{code, message}``."""


def status_of(error: e.ModelyardError) -> int:
    """The HTTP status for ``error`` (a 422 for values that do not fit the signature)."""
    if isinstance(error, e.InvalidInput) and error.code in _CLIENT_CODES:
        return 422
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def error_answer(
    error: e.ModelyardError,
    shape: ErrorShape | None = None,
    extra: Iterable[tuple[str, str]] = (),
) -> Answer:
    """The answer to ``error``: its status from the table, ``Retry-After`` on 429 and 503,
    ``WWW-Authenticate`` on 401; the body in a protocol's own ``shape`` if it has one, where
    a value that does not fit the signature is a 400, as those protocols answer it."""
    status = status_of(error)
    body = shape(error, status) if shape is not None else None
    if body is not None and status == 422 and getattr(error, "code", "") in _MISFITS:
        status = 400
        body = shape(error, status) if shape is not None else body
    headers = dict(extra)
    if status in (429, 503):
        headers.setdefault("retry-after", "1")
    if status == 401:
        headers.setdefault("www-authenticate", 'Bearer realm="modelyard"')
    payload = orjson.dumps(body if body is not None else error.to_dict(), default=str)
    return Answer(status, answer_headers(JSON, len(payload), extra=headers.items()), payload)


class Table:
    """:func:`error_answer` as the data plane's error table (``serving.dataplane.ErrorTable``)."""

    def answer(self, error: e.ModelyardError, codec: Codec | None) -> Answer:
        """The answer to ``error`` in ``codec``'s error document."""
        return error_answer(error, codec.error_body if codec is not None else None)


TABLE = Table()


def error_response(
    error: e.ModelyardError,
    headers: dict[str, str] | None = None,
    *,
    shape: ErrorShape | None = None,
) -> Response:
    """:func:`error_answer` as a framework response."""
    return as_response(error_answer(error, shape, (headers or {}).items()))


def as_response(answer: Answer) -> Response:
    """A data-plane answer as a framework response (same status, headers and bytes); its
    after hooks run once it is sent."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = list(answer.headers)
    if answer.exchange is not None and answer.hooks:
        response.background = BackgroundTask(answer.done)
    return response


class QuietLog:
    """One warning line per ``every_s`` seconds at most, saying how many were held back:
    what clients cause (disconnects) must not flood the log."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last = -every_s
        self._held = 0

    def warn(self, message: str) -> bool:
        """Log ``message`` (with the count held back since the last line) unless a line was
        logged less than ``every_s`` ago; True if it was logged."""
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._held += 1
            return False
        held, self._held, self._last = self._held, 0, now
        log.warning("%s%s", message, f" ({held} more since the last such line)" if held else "")
        return True


disconnects = QuietLog()


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``: every error, the framework's own included, is
    answered from the table above."""

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        disconnects.warn(
            f"client disconnected before sending its whole body: {request.method} "
            f"{request.url.path}"
        )
        return Response(status_code=499)  # nobody reads it: the connection is gone

    @app.exception_handler(e.ModelyardError)
    async def _modelyard(request: Request, exc: e.ModelyardError) -> Response:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return error_response(_framework_error(request, exc), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        return error_response(e.InvalidInput(message, code="invalid_request"))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        request_id = request.headers.get("x-request-id", "")
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(e.InternalError(f"internal error; request id {request_id}"))


def _framework_error(request: Request, exc: HTTPException) -> e.ModelyardError:
    """The framework's routing refusals as modelyard errors (so the table answers them)."""
    if exc.status_code == 404:
        path = request.url.path
        return e.NotFound(f"no route {request.method} {path}: see /docs for the routes")
    if exc.status_code == 405:
        return e.MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    if exc.status_code == 413:
        return e.PayloadTooLarge(str(exc.detail))
    if exc.status_code >= 500:
        return e.InternalError(str(exc.detail))
    return e.InvalidInput(str(exc.detail), code="http_error")
