"""``modelyard_entry_host.py``: boot the entry script, bind, write the port file, serve.

The host stops (draining what is in flight, as on SIGTERM) once the process that started
it is gone, even killed with SIGKILL: a modelyard server that dies leaves no host behind.

Exit code 3 when the script cannot be served (import error, missing init/run, a run()
signature azmlinfsrv refuses, init() raising), with the traceback and, for init(), the
AZUREML_MODEL_DIR tree on stderr; 2 for bad arguments or settings. The port file is
written (tmp + rename) only once the socket is bound: its appearance means ready.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
import traceback

from . import log, shim
from .cors import Cors
from .routes import Routes
from .runner import MainThreadRunner
from .script import ScriptError, UserScript, model_dir_tree
from .server import Server, bound_port, make_server
from .swagger import Swagger


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="modelyard_entry_host.py")
    parser.add_argument("--entry-script", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def _write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(str(port))
    os.replace(tmp, path)


def _fail(message: str) -> int:
    log.error(message)
    return 3


def main(shim_dir: str, argv: list[str] | None = None) -> int:
    """Serve until killed; returns the exit code when booting fails."""
    parent = os.getppid()  # before the script's init, which may take minutes
    args = _arguments(argv)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    env = dict(os.environ)
    try:
        timeout_ms = int(env.get("SCORING_TIMEOUT_MS", "3600000"))
    except ValueError:
        log.error("SCORING_TIMEOUT_MS must be an integer (milliseconds)")
        return 2
    app_root = env.get("AML_APP_ROOT") or os.getcwd()
    os.environ.setdefault("AML_APP_ROOT", app_root)
    which = shim.install(shim_dir)
    log.info(f"azureml names from: {which}")
    sys.path.append(app_root)
    if env.get("AZUREML_SOURCE_DIRECTORY"):
        sys.path.append(os.path.join(app_root, env["AZUREML_SOURCE_DIRECTORY"]))

    runner = MainThreadRunner()
    script = UserScript(os.path.join(app_root, args.entry_script), runner)
    try:
        script.load()
    except ScriptError as exc:
        return _fail(f"{exc}\n{traceback.format_exc()}")
    try:
        script.invoke_init()
    except BaseException:
        log.error("User's init function failed")
        log.error(f"Encountered Exception {traceback.format_exc()}")
        model_dir = env.get("AZUREML_MODEL_DIR", "")
        if model_dir and os.path.exists(model_dir):
            log.error("Model Directory Contents:\n" + "\n".join(model_dir_tree(model_dir)))
        return 3
    try:
        swagger = Swagger(app_root, script, env)
    except Exception:
        return _fail(f"Swagger generation failed: {traceback.format_exc()}")
    response_class = importlib.import_module("azureml.contrib.services.aml_response").AMLResponse
    request_class = importlib.import_module("azureml.contrib.services.aml_request").AMLRequest

    cors = Cors.from_env(env.get("AML_CORS_ORIGINS"))
    if cors is not None:
        log.info(f"Enabling CORS for the following origins: {env['AML_CORS_ORIGINS']}")
    routes = Routes(script, swagger, timeout_ms, response_class, cors)
    server = make_server(args.host, args.port, routes, request_class)
    host, port = bound_port(server)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda signum, frame: _drain_soon(server, runner))
    threading.Thread(
        target=_stop_with_parent, args=(parent, server, runner), name="parent", daemon=True
    ).start()
    log.info(f"Scoring timeout is set to {timeout_ms}")
    log.info(f"Worker with pid {os.getpid()} ready for serving traffic on http://{host}:{port}")
    _write_port_file(args.port_file, port)
    with contextlib.suppress(KeyboardInterrupt):
        runner.loop()
    log.info("Stopped")
    return 0


PARENT_CHECK_S = 1.0  # how often the host checks that the process that started it lives


def _stop_with_parent(parent: int, server: Server, runner: MainThreadRunner) -> None:
    """Drain and stop once this process is handed to another parent (its own died): the
    standard library's portable way, where ``PR_SET_PDEATHSIG`` follows the thread that
    started the host, not the process."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    # the server read this host's output through a pipe, gone with it: a write there would
    # raise (BrokenPipeError) and end this thread before the drain, so output goes nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (1, 2):
        os.dup2(devnull, stream)
    log.info(f"the process that started this host ({parent}) is gone: stopping")
    _drain_soon(server, runner, "the server that started this host is gone")


def _drain_soon(server: Server, runner: MainThreadRunner, why: str = "SIGTERM") -> None:
    """On SIGTERM (or ``why``): no new connections, the requests in flight answered, then
    exit 0."""
    if not server.draining:
        log.info(f"{why}: draining the requests in flight")
        server.draining = True

        def drain() -> None:
            server.drain()
            runner.stop()

        threading.Thread(target=drain, name="drain", daemon=True).start()
