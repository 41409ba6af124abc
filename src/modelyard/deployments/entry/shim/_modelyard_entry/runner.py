"""One call of the user's code at a time, on the main thread.

Like a gunicorn sync worker (what azureml-inference-server-http runs): scripts keep
globals, and the scoring timeout is a SIGALRM that interrupts ``run()`` with
TimeoutError, which only the main thread can receive. Request threads hand their call to
``call`` and wait; ``loop`` (the main thread) runs them in arrival order.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError


class _Job:
    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.outcome: tuple[bool, Any] = (False, None)

    def execute(self) -> None:
        try:
            self.outcome = (True, self.fn())
        except BaseException as exc:  # handed back to the waiting request thread
            self.outcome = (False, exc)
        finally:
            self.done.set()


class MainThreadRunner:
    """Runs callables on the thread that calls ``loop`` (the main thread)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on the main thread; returns its result or raises its exception."""
        if threading.current_thread() is threading.main_thread():
            return fn()
        job = _Job(fn)
        with self._lock:
            if self._closed:
                raise RuntimeError("the host is stopping")
            self._jobs.put(job)
        job.done.wait()
        ok, value = job.outcome
        if ok:
            result: T = value
            return result
        raise value

    def loop(self) -> None:
        """Run submitted calls until ``stop``."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job.execute()

    def stop(self) -> None:
        """``loop`` returns once the calls submitted so far are done; later ones fail."""
        with self._lock:
            self._closed = True
            self._jobs.put(None)

    @contextlib.contextmanager
    def alarm(self, timeout_ms: int) -> Iterator[None]:
        """TimeoutError raised in the block after ``timeout_ms`` (main thread, POSIX only)."""
        if os.name == "nt" or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
