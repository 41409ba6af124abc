"""The routes of azureml-inference-server-http, with its exact statuses, bodies and headers.

``respond(request)`` -> ``Reply``. ``/`` (health), ``/score`` and ``/swagger.json`` are the
routes; other paths are 404 and other methods 405, answered with only Content-Type and
``x-ms-run-function-failed`` (as Flask does before a route is matched). On a route the
request-id headers are checked (431) and echoed; a successful ``/score`` adds
``x-ms-run-fn-exec-ms``. With a ``Cors`` policy (``AML_CORS_ORIGINS``), replies on a
route get its headers.
"""

from __future__ import annotations

import traceback
import uuid
from typing import Any, NamedTuple

from . import __version__, log
from .cors import ALLOW_ORIGIN, Cors
from .script import (
    BadInput,
    ScriptFailed,
    ScriptTimeout,
    UnsupportedInput,
    UnsupportedMethod,
    UserScript,
)
from .swagger import Swagger, SwaggerNotFound

# the replica's proxy marks an OPTIONS sent without a valid key (see modelyard.web.entry)
ANONYMOUS = "x-modelyard-anonymous"
HEADER_LIMIT = 100
SERVER_VERSION = "modelyard-entry-host/" + __version__
HTML = "text/html; charset=utf-8"
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
INTERNAL = "An unexpected internal error occurred. Check the logs for more info."
SCRIPT_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."
METHODS = {
    "/": ("GET", "HEAD", "OPTIONS"),
    "/score": ("GET", "HEAD", "OPTIONS", "POST"),
    "/swagger.json": ("GET", "HEAD", "OPTIONS"),
}


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Routes:
    """Answers requests (AMLRequest objects) for one loaded script."""

    def __init__(
        self,
        script: UserScript,
        swagger: Swagger,
        timeout_ms: int,
        response_class: type[Any],
        cors: Cors | None = None,
    ) -> None:
        self.script = script
        self.cors = cors
        self.swagger = swagger
        self.timeout_ms = timeout_ms
        self.AMLResponse = response_class

    def _error(self, status: int, message: str, run_failed: bool = False) -> Any:
        return self.AMLResponse(
            {"message": message}, status, json_str=True, run_function_failed=run_failed
        )

    def _reply(self, response: Any) -> Reply:
        return Reply(response.status_code, list(response.headers), response.body)

    def respond(self, request: Any) -> Reply:
        """The reply to ``request``; never raises."""
        methods = METHODS.get(request.path)
        if methods is None:
            return self._reply(self._error(404, NOT_FOUND))
        if request.method not in methods:
            return self._reply(self._error(405, NOT_ALLOWED))
        ids, refusal = self._request_ids(request)
        try:
            response = refusal or self._dispatch(request)
        except Exception:
            log.error(f"Encountered Exception: {traceback.format_exc()}")
            response = self._error(500, INTERNAL)
        reply = self._reply(response)
        reply.headers.append(("x-ms-server-version", SERVER_VERSION))
        reply.headers.extend(ids)
        if "TraceId" in request.headers:
            reply.headers.append(("TraceId", request.headers["TraceId"]))
        if self.cors is not None and not any(
            k.lower() == ALLOW_ORIGIN.lower() for k, _ in reply.headers
        ):
            reply.headers.extend(self.cors.headers(request.method, request.headers.get))
        return reply

    def _request_ids(self, request: Any) -> tuple[list[tuple[str, str]], Any | None]:
        request_id = request.headers.get("x-request-id", str(uuid.uuid4()))
        if len(request_id) > HEADER_LIMIT:
            return [], self._error(431, f"x-request-id must not exceed {HEADER_LIMIT} characters")
        ids = [("x-request-id", request_id)] if request_id else []
        legacy = request.headers.get("x-ms-request-id", "")
        client = request.headers.get("x-ms-client-request-id", "")
        if legacy:
            log.info(
                "x-ms-request-id header has been deprecated and will be removed from "
                "future versions of the server. Please use x-ms-client-request-id."
            )
            client = client or legacy
        else:
            legacy = client or request_id
        if len(legacy) > HEADER_LIMIT or len(client) > HEADER_LIMIT:
            return ids, self._error(
                431,
                "x-ms-request-id and x-ms-client-request-id must not exceed "
                f"{HEADER_LIMIT} characters",
            )
        if legacy:
            ids.append(("x-ms-request-id", legacy))
        if client:
            ids.append(("x-ms-client-request-id", client))
        return ids, None

    def _dispatch(self, request: Any) -> Any:
        if request.method == "OPTIONS" and request.path != "/score":
            response = self.AMLResponse("", 200)
            response.headers = [("Content-Type", HTML), ("Allow", ", ".join(METHODS[request.path]))]
            return response
        if request.path == "/":
            response = self.AMLResponse("Healthy", 200)
            response.headers = [("Content-Type", HTML)]
            return response
        if request.path == "/swagger.json":
            try:
                spec = self.swagger.get(request.args.get("version", "2"))
            except SwaggerNotFound as exc:
                return self._error(404, exc.message)
            return self.AMLResponse(spec, 200, json_str=True)
        return self._score(request)

    def _score(self, request: Any) -> Any:
        if request.method == "OPTIONS" and request.headers.get(ANONYMOUS) == "1":
            return self.AMLResponse("", 200)  # a keyless preflight: no user code runs
        try:
            result = self.script.invoke_run(request, self.timeout_ms)
        except BadInput as exc:
            return self._error(400, str(exc))
        except UnsupportedInput as exc:
            return self._error(415, str(exc))
        except UnsupportedMethod:
            if request.method == "OPTIONS":
                return self.AMLResponse("", 200)
            return self._error(405, "Method not allowed")
        except ScriptTimeout as exc:
            log.error(f"Encountered Exception: Scoring timeout after {exc.timeout_ms} ms")
            return self._error(500, f"Scoring timeout after {exc.timeout_ms} ms", True)
        except ScriptFailed as exc:
            cause = exc.__cause__ or exc
            log.error(
                "Encountered Exception: {}".format(
                    "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
                )
            )
            return self._error(500, SCRIPT_FAILED, True)
        response = result.output
        if isinstance(response, self.AMLResponse):
            log.info("run() output is HTTP Response")
            if response.status_code >= 500:
                response.set_header("x-ms-run-function-failed", "True")
        else:
            response = self.AMLResponse(response, 200, json_str=True)
        response.headers.append(("x-ms-run-fn-exec-ms", f"{result.elapsed_ms:.3f}"))
        return response
