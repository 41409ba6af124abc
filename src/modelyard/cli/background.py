"""What the long-running commands share: threads that work until Ctrl+C or SIGTERM.

The first signal sets a stop event: a worker finishes the job in hand, a scheduler gives
its lease up, and the command returns. A second signal aborts at once; a job cut short
that way is failed by another worker's reaper after three missed heartbeats.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

from rich.console import Console

from modelyard.errors import ModelyardError

Runner = Callable[[threading.Event], None]
"""Works until the event is set (``Worker.run``, ``Scheduler.run``)."""


def show_job_logs() -> None:
    """Print what workers and schedulers log (fires, failures, reaped jobs) on stderr."""
    logger = logging.getLogger("modelyard")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextmanager
def stop_on_signal(message: str) -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM (which prints ``message``); a second one
    raises ``KeyboardInterrupt``. The previous handlers come back afterwards."""
    stop = threading.Event()
    # Bound to the stderr of now: a training script's output capture swaps sys.stderr
    # for the whole process while it runs, and this message is not the script's.
    console = Console(file=sys.stderr, highlight=False)

    def handle(sig: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print(message)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def in_threads(
    stop: threading.Event, runners: Mapping[str, Runner]
) -> Iterator[list[threading.Thread]]:
    """Run each runner in its own thread for the length of the block; then set ``stop`` and
    wait for every thread to finish what it holds."""
    threads = [
        threading.Thread(target=run, args=(stop,), name=name, daemon=True)
        for name, run in runners.items()
    ]
    for thread in threads:
        thread.start()
    try:
        yield threads
    finally:
        stop.set()
        for thread in threads:
            sleep_while_alive(thread, 0.2)


def sleep_while_alive(thread: threading.Thread, poll_s: float) -> None:
    """Return once ``thread`` has ended, open to signals meanwhile (a ``KeyboardInterrupt``
    leaves it running and says so truly). Not ``thread.join(timeout)`` in a loop: on Python
    3.11 a signal that interrupts a join marks the thread stopped while it still runs, and
    the interpreter may then exit under it (a segfault in a C extension's callback)."""
    while thread.is_alive():
        time.sleep(poll_s)


def wait(stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Block until ``stop`` is set (by a signal); raise if a thread died on its own."""
    while not stop.wait(0.5):
        dead = [t.name for t in threads if not t.is_alive()]
        if dead:
            raise ModelyardError(f"the {', '.join(dead)} thread stopped: see the error above")
