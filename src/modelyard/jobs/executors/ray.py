"""The Ray executor: each callable runs as a Ray task on an existing, authenticated cluster.

modelyard never starts a Ray cluster and never listens for one. It reaches the cluster
through Ray Client (``ray://head:10001``), a plain gRPC client, and sends the cluster's
token with every call (the cluster runs with ``RAY_AUTH_MODE=token``); the settings
refuse an address without a token. This is the only module that imports Ray.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import ray
import ray.exceptions

from modelyard.config.secret import Secret
from modelyard.errors import ExecutorUnavailable
from modelyard.jobs.executors.base import OnResult

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")
S = TypeVar("S")

log = logging.getLogger("modelyard.jobs")


@dataclass(frozen=True)
class _Outcome:
    """What a task sends back: its value, or the exception it raised taken apart.

    An exception is rebuilt from its type, ``args`` and ``__dict__`` rather than pickled
    whole, so a ``ModelyardError`` comes back with its instance ``code`` and details.
    """

    value: Any = None
    error_type: type[BaseException] | None = None
    error_args: tuple[Any, ...] = ()
    error_state: Mapping[str, Any] | None = None
    remote_traceback: str = ""

    def unwrap(self) -> Any:
        if self.error_type is None:
            return self.value
        error = self.error_type.__new__(self.error_type)
        error.args = self.error_args
        error.__dict__.update(self.error_state or {})
        if self.remote_traceback:
            error.add_note(f"raised on the Ray cluster:\n{self.remote_traceback.rstrip()}")
        raise error


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Outcome:
    """The Ray task: run ``fn`` on the cluster and report how it ended."""
    try:
        return _Outcome(value=fn(*args, **kwargs))
    except Exception as exc:
        return _Outcome(
            error_type=type(exc),
            error_args=exc.args,
            error_state=dict(vars(exc)),
            remote_traceback=traceback.format_exc(),
        )


def _call_shared(fn: Callable[[Any, Any], Any], item: Any, shared: Any) -> _Outcome:
    """The Ray task of ``map``: ``shared`` arrives as the value of its object reference."""
    return _call(fn, (item, shared), {})


class RayExecutor:
    """Runs each callable as one Ray task and waits for it. Connects on first use."""

    kind = "ray"

    def __init__(self, address: str, token: Secret, *, num_cpus: float = 1.0) -> None:
        self.address = address
        self._token = token
        self._num_cpus = num_cpus
        self._context: Any = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` as a Ray task and return its result.

        Raises what ``fn`` raised, rebuilt; ``ExecutorUnavailable`` if the cluster cannot
        be reached or the task was lost (its worker or node died).
        """
        context = self._connect()
        task = ray.remote(num_cpus=self._num_cpus, max_retries=0)(_call)
        try:
            with context:
                outcome = ray.get(task.remote(fn, args, dict(kwargs)))
        except (ray.exceptions.RayError, ConnectionError) as exc:
            raise self._lost(exc) from None
        return cast(T, outcome.unwrap())

    def map(
        self,
        fn: Callable[[A, S], T],
        items: Sequence[A],
        shared: S,
        *,
        on_result: OnResult[T] | None = None,
    ) -> list[T]:
        """One Ray task per item, all submitted at once (the cluster runs as many at a
        time as it has CPUs), ``shared`` put in the object store once; results in item
        order. Raises what a call raised (cancelling the tasks not finished), or
        ``ExecutorUnavailable``."""
        if not items:
            return []
        context = self._connect()
        task = ray.remote(num_cpus=self._num_cpus, max_retries=0)(_call_shared)
        results: list[Any] = [None] * len(items)
        pending: list[Any] = []
        try:
            with context:
                shared_ref = ray.put(shared)
                refs = [task.remote(fn, item, shared_ref) for item in items]
                where = {ref.hex(): index for index, ref in enumerate(refs)}
                pending = list(refs)
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for ref in done:
                        index = where[ref.hex()]
                        results[index] = cast(_Outcome, ray.get(ref)).unwrap()
                        if on_result is not None:
                            on_result(index, results[index])
        except (ray.exceptions.RayError, ConnectionError) as exc:
            self._cancel(context, pending)
            raise self._lost(exc) from None
        except BaseException:
            self._cancel(context, pending)
            raise
        return results

    def _lost(self, exc: Exception) -> ExecutorUnavailable:
        """A task lost (its worker or node died) or the connection to the cluster."""
        if isinstance(exc, ConnectionError):
            return ExecutorUnavailable(
                f"lost the connection to the Ray cluster at {self.address}: {exc}"
            )
        return ExecutorUnavailable(
            f"the Ray task on {self.address} did not complete: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        )

    def _cancel(self, context: Any, refs: Sequence[Any]) -> None:
        """Best effort: the tasks a failed ``map`` no longer waits for stop."""
        try:
            with context:
                for ref in refs:
                    ray.cancel(ref)
        except Exception as exc:  # a lost cluster has nothing left to cancel
            log.debug("could not cancel %d Ray tasks: %s", len(refs), exc)

    def describe(self) -> str:
        """``ray at ray://host:port``."""
        return f"ray at {self.address}"

    def close(self) -> None:
        """Disconnect from the cluster (the cluster and its tasks are left alone)."""
        with self._lock:
            if self._context is not None:
                self._context.disconnect()
                self._context = None

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, token={self._token!r})"

    def _connect(self) -> Any:
        with self._lock:
            if self._context is None:
                _use_token(self._token)
                self._context = self._init()
            return self._context

    def _init(self) -> Any:
        try:
            return self._ray_init()
        except ConnectionError as exc:
            # The head accepted us but its per-client server was slow to start (a busy
            # head): worth one more try. A timeout (no server, wrong token) is not.
            if "Initialization failure from server" not in str(exc):
                raise self._unreachable(exc) from None
            log.warning("Ray at %s: %s; retrying once", self.address, exc)
        try:
            return self._ray_init()
        except ConnectionError as exc:
            raise self._unreachable(exc) from None

    def _ray_init(self) -> Any:
        return ray.init(address=self.address, allow_multiple=True, logging_level=logging.WARNING)

    def _unreachable(self, exc: Exception) -> ExecutorUnavailable:
        return ExecutorUnavailable(
            f"cannot reach the Ray cluster at {self.address} ({exc}): check that its Ray "
            "Client server is up there and that the token is the cluster's (Ray answers a "
            "wrong token with a timeout)"
        )


def _use_token(token: Secret) -> None:
    """Make Ray send ``token``: Ray reads its auth mode and token from the environment,
    and caches both when it is imported, so the cache is refreshed after setting them."""
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = token.reveal()
    raylet: Any = importlib.import_module("ray._raylet")  # private, and not in Ray's stubs
    try:
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()
    except AttributeError:  # an older or newer Ray: it reads the variables when it connects
        log.debug("could not refresh Ray's auth cache; relying on the environment")
