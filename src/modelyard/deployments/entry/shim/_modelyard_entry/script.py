"""The user's entry script: loaded, checked, and called as azureml-inference-server-http does.

``run`` is called one of three ways (PROTOCOLS.md §2.1): undecorated with the body as a
UTF-8 str (``JsonStringInput``); decorated by inference-schema with each parameter taken
from the JSON object of the same name (``ObjectInput``); with ``@rawhttp`` given the
request itself (``RawRequestInput``). A parameter named ``request_headers`` receives the
request's headers as a dict.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import time
import traceback
from types import ModuleType
from typing import Any, Callable, NamedTuple

from . import context, log
from .runner import MainThreadRunner


class ScriptError(Exception):
    """The script cannot be served (import failure, missing init/run, bad run signature)."""


class BadInput(Exception):
    """400: the request cannot be turned into run()'s arguments."""


class UnsupportedInput(Exception):
    """415: a decorated run() needs a JSON body."""


class UnsupportedMethod(Exception):
    """Neither GET nor POST (OPTIONS answers 200, other methods 405)."""


class ScriptTimeout(Exception):
    def __init__(self, timeout_ms: int) -> None:
        super().__init__(f"run() did not finish within {timeout_ms} ms")
        self.timeout_ms = timeout_ms


class ScriptFailed(Exception):
    """run() raised; the cause is chained."""


class TimedResult(NamedTuple):
    elapsed_ms: float
    output: Any


def _schema_util() -> ModuleType | None:
    try:
        import inference_schema.schema_util as schema_util
    except ImportError:
        return None
    module: ModuleType = schema_util
    return module


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def query_parameters(request: Any) -> dict[str, Any]:
    """GET parameters as a JSON body: each value JSON-parsed when it can be, repeated keys
    as lists (``?a=1&c=x&c=y`` -> ``{"a": 1, "c": ["x", "y"]}``)."""
    parsed: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        parsed[key] = (
            _parse_value(values[0]) if len(values) == 1 else [_parse_value(v) for v in values]
        )
    return parsed


class UserScript:
    """The loaded script; ``invoke_run`` is safe to call from any thread (it runs the user's
    code on the main thread, one call at a time)."""

    def __init__(self, path: str, runner: MainThreadRunner) -> None:
        self.path = path
        self.runner = runner
        self.module: ModuleType | None = None
        self.run: Callable[..., Any] = _missing
        self.init: Callable[[], Any] = _missing
        self.kind = "json_string"
        self.first_param = ""
        self.params: list[inspect.Parameter] = []
        self.wants_headers = False
        self.schema_util = _schema_util()

    def load(self) -> None:
        """Import the script and check its ``init``/``run``; raises ScriptError."""
        try:
            spec = importlib.util.spec_from_file_location("entry_module", self.path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {self.path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except BaseException as exc:
            # Azure's words, then the cause's last line (``ModuleNotFoundError: No module
            # named 'pandas'``), which the one-line summaries of the failure quote
            cause = traceback.format_exception_only(type(exc), exc)[-1].strip()
            raise ScriptError(
                "Failed to import user script because it raised an unhandled exception: " + cause
            ) from exc
        for name in ("init", "run"):
            if not hasattr(module, name):
                raise ScriptError(
                    f"User script at {module.__file__} does not have a {name}() function defined."
                )
        driver = getattr(module, "driver_module", None)
        if isinstance(driver, ModuleType) and hasattr(driver, "run"):
            self.run = driver.run
            log.info(
                f"Found driver script at {module.__file__} and the score script at "
                f"{driver.__file__}"
            )
        else:
            self.run = module.run
            log.info(f"Found user script at {module.__file__}")
        self.init = module.init
        self.module = module
        self._analyze_run()

    def _analyze_run(self) -> None:
        params = list(inspect.signature(self.run).parameters.values())
        allowed = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if any(p.kind not in allowed for p in params):
            raise ScriptError("run() cannot accept positional-only arguments, *args, or **kwargs.")
        self.wants_headers = any(p.name == "request_headers" for p in params)
        params = [p for p in params if p.name != "request_headers"]
        if not params:
            if self.wants_headers:
                raise ScriptError('run() needs to accept an argument other than "request_headers".')
            raise ScriptError("run() needs to accept an argument for input data.")
        self.first_param = params[0].name
        self.params = params
        raw = bool(getattr(_aml_request(), "_rawHttpRequested", False))
        decorated = self.is_decorated()
        if raw and decorated:
            raise ScriptError("run() cannot be decorated with both @rawhttp and @input_schema")
        if raw:
            self.kind = "raw"
            log.info(
                "run() is decorated with @rawhttp. Server will invoke it with the request object."
            )
        elif decorated:
            self.kind = "object"
            log.info(
                "run() is decorated with @input_schema. Server will invoke it with the "
                "following arguments: {}.".format(", ".join(p.name for p in params))
            )
        else:
            log.info("run() is not decorated. Server will invoke it with the input in JSON string.")

    def is_decorated(self) -> bool:
        return self.schema_util is not None and bool(self.schema_util.is_schema_decorated(self.run))

    def invoke_init(self) -> None:
        """Call ``init()`` on this (the main) thread; its exception propagates."""
        log.info("Invoking user's init function")
        self.init()
        log.info("Users's init has completed successfully")

    # -- per request ---------------------------------------------------------------------
    def arguments(self, request: Any) -> dict[str, Any]:
        """run()'s keyword arguments for ``request`` (an AMLRequest); raises BadInput,
        UnsupportedInput or UnsupportedMethod."""
        if self.kind == "raw":
            return {self.first_param: request}
        if request.method not in ("GET", "POST"):
            raise UnsupportedMethod(request.method)
        if self.kind == "json_string":
            if request.method == "GET":
                return {self.first_param: json.dumps(query_parameters(request))}
            try:
                return {self.first_param: str(request.data, "utf-8")}
            except UnicodeDecodeError as exc:
                raise BadInput(f"Input cannot be decoded as UTF-8: {exc}") from None
        if request.method == "GET":
            return self._extract(query_parameters(request))
        if not request.is_json:
            raise UnsupportedInput("Expects Content-Type to be application/json")
        body = request.get_data()
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError as exc:
            if body:
                raise BadInput(f"POST body could not be decoded as JSON: {exc}") from None
            raise BadInput("POST body is empty. Expecting a JSON dictionary.") from None
        if not isinstance(parsed, dict):
            raise BadInput("POST body should be a JSON dictionary.")
        return self._extract(parsed)

    def _extract(self, body: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for param in self.params:
            value = body.get(param.name, param.default)
            if value is inspect.Parameter.empty:
                raise BadInput(f"A value is not provided for the {param.name!r} parameter.")
            arguments[param.name] = value
        return arguments

    def invoke_run(self, request: Any, timeout_ms: int) -> TimedResult:
        """Call run() for ``request``: raises the input errors above, ScriptTimeout after
        ``timeout_ms``, ScriptFailed when run() raises."""
        arguments = self.arguments(request)
        if self.wants_headers:
            arguments["request_headers"] = dict(request.headers)
        run = self.run
        request_id = str(request.headers.get("x-request-id", "") or "")

        def call() -> TimedResult:
            started = time.perf_counter()
            context.request_id = request_id
            try:
                with self.runner.alarm(timeout_ms):
                    output = run(**arguments)
            except TimeoutError:
                raise ScriptTimeout(timeout_ms) from None
            except Exception as exc:
                raise ScriptFailed("run() raised") from exc
            return TimedResult((time.perf_counter() - started) * 1000, output)

        return self.runner.call(call)


def _missing(*args: Any, **kwargs: Any) -> Any:
    raise ScriptError("the script is not loaded")


def _aml_request() -> ModuleType | None:
    try:
        return importlib.import_module("azureml.contrib.services.aml_request")
    except ImportError:
        return None


def model_dir_tree(path: str, limit: int = 200) -> list[str]:
    """The first ``limit`` lines of ``path``'s tree, four spaces per level (as azmlinfsrv
    logs it when init() fails); a last line says when it was cut."""
    lines: list[str] = []

    def walk(p: str, depth: int) -> bool:
        if len(lines) >= limit:
            return False
        name = os.path.basename(os.path.normpath(p).rstrip(os.sep))
        if os.path.isdir(p):
            lines.append("{}{}{}".format(" " * 4 * depth, name, os.sep))
            for child in sorted(os.listdir(p)):
                if not walk(os.path.join(p, child), depth + 1):
                    return False
        else:
            lines.append("{}{}".format(" " * 4 * depth, name))
        return True

    if not walk(path, 0):
        lines.append(f"Output Truncated. First {limit} lines shown.")
    return lines
