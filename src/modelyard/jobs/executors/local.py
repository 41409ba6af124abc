"""The default executor: work runs in the calling process (a worker of ``modelyard up``),
and ``map`` runs its calls in a pool of local processes, one per CPU."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, ParamSpec, TypeVar

from modelyard.jobs.executors.base import OnResult

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")
S = TypeVar("S")

# What ``map`` shares with every call, set once in each pool process by its initializer
# (so the data crosses to a process once, not once per call); unused in the caller.
_shared: Any = None


def _adopt(shared: Any) -> None:
    global _shared
    _shared = shared


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(item, _shared)


class LocalExecutor:
    """Runs each callable in-process, in the calling thread; ``map`` in local processes."""

    kind = "local"

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or os.cpu_count() or 1

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` and return what it returns (or raise what it raises)."""
        return fn(*args, **kwargs)

    def map(
        self,
        fn: Callable[[A, S], T],
        items: Sequence[A],
        shared: S,
        *,
        on_result: OnResult[T] | None = None,
    ) -> list[T]:
        """``fn(item, shared)`` for each item in up to ``processes`` local processes;
        results in item order. A call that raises stops the calls not started.

        The processes are forked from multiprocessing's fork server (a fresh interpreter,
        never this possibly threaded one), which imports ``fn``'s module once when it
        starts: later pools start in milliseconds instead of importing it again.
        """
        if not items:
            return []
        results: list[Any] = [None] * len(items)
        workers = min(len(items), self.processes)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([fn.__module__])  # no effect once the server runs
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_adopt, initargs=(shared,)
        ) as pool:
            futures: dict[Future[Any], int] = {
                pool.submit(_call, fn, item): index for index, item in enumerate(items)
            }
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    results[index] = future.result()
                    if on_result is not None:
                        on_result(index, results[index])
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        return results

    def describe(self) -> str:
        """``local``."""
        return "local"

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "LocalExecutor()"
