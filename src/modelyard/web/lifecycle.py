"""Graceful stop of a scoring replica: not-ready first, then drain, then exit.

On SIGTERM (what an orchestrator sends before replacing a replica)::

    SIGTERM ─> draining: readiness (GET /v2/health/ready) answers 503, every answer carries
    │          ``Connection: close``; requests are still served, because a load
    │          balancer takes a moment to notice and may still send some
    └ drain_s later ─> uvicorn's graceful shutdown: the listener closes, idle
                       connections close, requests in flight finish, exit

so a rolling restart drops nothing. A second SIGTERM during the drain skips the rest of
the wait (still finishing what is in flight); SIGINT (Ctrl+C) is left to uvicorn and stops
at once, gracefully. ``drain_s = 0`` skips the not-ready phase.

A worker of ``serve --workers N`` also watches the ``serve`` process that started it: once
that one is gone (SIGKILLed, crashed), the worker sends itself SIGTERM and stops the same
way, rather than serving on with no process left to stop it.

The hook wraps whatever SIGTERM handler the server installed (uvicorn's), when the app
starts, in the process that serves: it works with one worker or many, and does nothing
where signals cannot be handled (an app served from a thread, as in tests).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.config.serve import ServeOptions

# Readiness probes answered 503 while draining: the Open Inference Protocol's, and MLflow's
# (served at the root by ``serve --mlflow-compat``). Liveness (/v2/health/live) stays 200.
READY_PATHS = ("/v2/health/ready", "/ping", "/health")
logger = logging.getLogger("uvicorn.error")
SUPERVISOR_CHECK_S = 0.5  # how often a worker looks whether its ``serve`` process lives
DRAIN = "modelyard.drain"  # the lifespan state key of the Drain (the scoring lane reads it)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class Drain:
    """Whether this replica is draining, and since when (thread-safe)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = max(0.0, float(delay_s))
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def draining(self) -> bool:
        """True from the first SIGTERM on."""
        return self._since is not None

    @property
    def since(self) -> float | None:
        """``time.monotonic()`` when the drain began."""
        return self._since

    def begin(self) -> bool:
        """Start draining; True only for the call that started it."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = time.monotonic()
            return True


class _SigtermHook:
    """Stands in front of the server's SIGTERM handler for the length of the drain."""

    def __init__(self, drain: Drain) -> None:
        self.drain = drain
        self.previous: _Handler = None
        self.timer: threading.Timer | None = None
        self.installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals are handled in the main thread only: nothing to wrap here
        self.previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self.handle)
        self.installed = True

    def uninstall(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.installed and signal.getsignal(signal.SIGTERM) == self.handle:
            signal.signal(signal.SIGTERM, self.previous)
        self.installed = False

    def handle(self, sig: int, frame: FrameType | None) -> None:
        if self.drain.begin() and self.drain.delay_s > 0:
            logger.warning(
                "SIGTERM: not ready; serving for %g s more, then finishing requests in flight",
                self.drain.delay_s,
            )
            # The timer signals again, so that the server's handler runs in the main thread.
            self.timer = threading.Timer(self.drain.delay_s, os.kill, (os.getpid(), sig))
            self.timer.daemon = True
            self.timer.start()
            return
        if self.timer is not None:
            self.timer.cancel()
        self._forward(sig, frame)

    def _forward(self, sig: int, frame: FrameType | None) -> None:
        previous = self.previous
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # the default action: terminate
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)


class DrainMiddleware:
    """ASGI wrapper: hooks SIGTERM at startup; while draining, answers the readiness
    probe with 503 and asks every client to close its connection after the answer."""

    def __init__(
        self,
        app: ASGIApp,
        drain: Drain,
        ready_paths: tuple[str, ...] = READY_PATHS,
        supervisor: int = 0,
    ) -> None:
        """``supervisor``: the pid of the ``serve`` process whose worker this is (0 for
        none); the worker stops once that process is gone."""
        self.app = app
        self.drain = drain
        self.ready_paths = ready_paths
        self.supervisor = supervisor
        self._hook = _SigtermHook(drain)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            state = scope.get("state")
            if state is not None:  # the server's protocol (web.protocol) looks here
                state[DRAIN] = self.drain
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.ready_paths and scope["method"] in ("GET", "HEAD"):
            await self._not_ready(scope, send)
            return

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message["headers"] = [*headers, (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, closing_send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._hook.install()
                if self.supervisor and os.getpid() != self.supervisor:  # a worker's
                    watch = threading.Thread(
                        target=_watch_supervisor,
                        args=(self.supervisor,),
                        name="modelyard-supervisor-watch",
                        daemon=True,
                    )
                    watch.start()
            elif message["type"] == "lifespan.shutdown":
                self._hook.uninstall()
            return message

        return wrapped

    async def _not_ready(self, scope: Scope, send: Send) -> None:
        body = orjson.dumps({"ready": False, "draining": True})
        request_id = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        if request_id:
            headers.append((b"x-request-id", request_id[:128]))
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})


def _watch_supervisor(supervisor: int) -> None:
    """SIGTERM this worker once ``supervisor`` (its parent) is gone (at once if it went
    while the worker was starting)."""
    while os.getppid() == supervisor:
        time.sleep(SUPERVISOR_CHECK_S)
    logger.warning("the serve process (pid %d) is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


def drain_on_sigterm(
    app: ASGIApp, delay_s: float = ServeOptions.drain_s, supervisor: int = 0
) -> DrainMiddleware:
    """``app`` wrapped so that SIGTERM makes it not-ready, drain, then stop (and so does the
    end of ``supervisor``, the ``serve`` process of its worker, when not 0)."""
    return DrainMiddleware(app, Drain(delay_s), supervisor=supervisor)


def app_from_environment() -> DrainMiddleware:
    """The app of one ``modelyard serve`` worker: ``web.app``'s, stopping gracefully."""
    from modelyard.web.app import app_from_environment as build

    options = ServeOptions.from_env()
    return drain_on_sigterm(build(), options.drain_s, options.supervisor)
