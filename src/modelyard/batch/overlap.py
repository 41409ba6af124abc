"""Read, score and write at once: the next chunk is read and the previous one committed
while a chunk is scored, so a job runs near the slower of I/O and scoring, not their sum.

Commits stay in chunk order (one writer), so a watermark still names every row before
it; at most three chunks are in memory. When scoring fails (a malformed row under
``--on-error fail``), the chunks scored before it are committed first, then the error
is raised.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _feed(items: Iterator[Any], into: queue.Queue[Any], halt: threading.Event) -> None:
    try:
        for item in items:
            while not halt.is_set():
                try:
                    into.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if halt.is_set():
                return
        into.put(_END)
    except BaseException as exc:  # handed to the consumer, raised there
        into.put(_Failed(exc))


class Stopped(Exception):
    """Raised out of :func:`overlapped` when ``stopped()`` said so (after the commits)."""


def overlapped(
    chunks: Iterator[T],
    score: Callable[[T], Any],
    commit: Callable[[Any], None],
    stopped: Callable[[], bool],
) -> None:
    """For each chunk: ``commit(score(chunk))``, with the next chunk read and the last
    one committed while this one is scored. Raises the first error of any step (after
    committing what was scored before it), or Stopped once ``stopped()`` says so
    (checked before each chunk)."""
    halt = threading.Event()
    read: queue.Queue[Any] = queue.Queue(maxsize=1)
    scored: queue.Queue[Any] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def write() -> None:
        while True:
            item = scored.get()
            if item is _END:
                return
            if not failure:  # after a failure: drain, the producer stops soon
                try:
                    commit(item)
                except BaseException as exc:
                    failure.append(exc)

    reader = threading.Thread(target=_feed, args=(chunks, read, halt), daemon=True)
    writer = threading.Thread(target=write, daemon=True)
    reader.start()
    writer.start()
    error: BaseException | None = None
    try:
        while not failure:
            if stopped():
                raise Stopped
            item = read.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            scored.put(score(item))
    except BaseException as exc:
        error = exc
    halt.set()
    scored.put(_END)
    writer.join()
    if failure:
        raise failure[0]
    if error is not None:
        raise error
