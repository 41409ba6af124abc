"""Reading a request body under a size limit and a deadline.

The body of an admitted request must arrive whole within ``timeout_s`` of its first read
and within ``max_bytes``: a client that sends half a body and waits holds its in-flight
slot no longer than that, and gets 408 (``BodyTimeout``); one past the size gets 413.
Whoever reads the body (a FastAPI route, the fast route, the entry-script proxy) reads it
through :class:`BodyReader`; the error it met is kept, so that the limits middleware can
answer it from the error table even when a framework turned it into something else.

The deadline is kept by one timer per event loop (:class:`Watch`), which looks at the
readers waiting for bytes every :data:`TICK_S`: a timer per read costs more than reading a
one-row body, and a body late by a quarter of a second more is still refused. The scoring
lane (``web.protocol``) keeps its own waiting bodies there too.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from starlette.types import Message, Receive

from modelyard.errors import BodyTimeout, ModelyardError, PayloadTooLarge

log = logging.getLogger("modelyard.web")
TICK_S = 0.25  # how often the readers waiting for body bytes are checked


def body_timeout(timeout_s: float, received: int) -> BodyTimeout:
    """The error of a body not whole within ``timeout_s`` (408), ``received`` bytes in."""
    return BodyTimeout(
        f"the body did not arrive within {timeout_s:g} s: send it whole, {received} bytes came"
    )


class Waiting(Protocol):
    """What :class:`Watch` looks after: a wait with a deadline (loop time)."""

    deadline: float | None

    def expire(self) -> None:
        """The deadline passed: end the wait (called once, from the loop)."""
        ...


class BodyReader:
    """A ``receive`` callable that enforces the limits on ``http.request`` messages."""

    def __init__(self, receive: Receive, max_bytes: int, timeout_s: float) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.received = 0
        self.complete = False
        self.error: ModelyardError | None = None
        self.deadline: float | None = None  # loop time, from the first read
        self.expired = False  # set by the watch when the deadline passed mid-read
        self._task: asyncio.Task[object] | None = None

    async def __call__(self) -> Message:
        """The next message; raises ``BodyTimeout`` or ``PayloadTooLarge`` (and keeps it)."""
        if self.complete:  # the body is whole: waiting for a disconnect is not limited
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self.deadline is None:
            self.deadline = loop.time() + self.timeout_s
        task = asyncio.current_task()
        assert task is not None
        watch = Watch.of(loop)
        self._task = task
        watch.enter(self)
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if not self.expired or task.uncancel() > 0:  # someone else's cancellation
                raise
            self.error = body_timeout(self.timeout_s, self.received)
            raise self.error from None
        finally:
            watch.leave(self)
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.error = PayloadTooLarge(
                    f"the body is over the limit of {self.max_bytes} bytes"
                )
                raise self.error
            self.complete = not message.get("more_body", False)
        return message

    def expire(self) -> None:
        """Cancel the read waiting past the deadline (it then raises ``BodyTimeout``)."""
        self.expired = True
        if self._task is not None:
            self._task.cancel()


class Watch:
    """The waits of one event loop for body bytes, and the one timer that expires any
    past its deadline (checked every :data:`TICK_S`)."""

    _of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watch] = (
        weakref.WeakKeyDictionary()
    )
    _last: Watch | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: set[Waiting] = set()
        self.timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Watch:
        """The watch of ``loop`` (made on first use)."""
        last = cls._last
        if last is not None and last.loop is loop:  # a server runs one loop: no lookup
            return last
        watch = cls._of_loop.get(loop)
        if watch is None:
            watch = cls._of_loop[loop] = cls(loop)
        cls._last = watch
        return watch

    def enter(self, waiting: Waiting) -> None:
        """``waiting`` waits for bytes until its deadline."""
        self.waiting.add(waiting)
        if self.timer is None:
            self.timer = self.loop.call_later(TICK_S, self._sweep)

    def leave(self, waiting: Waiting) -> None:
        """The wait is over (bytes came, or it was cancelled)."""
        self.waiting.discard(waiting)

    def _sweep(self) -> None:
        now = self.loop.time()
        try:
            for waiting in list(self.waiting):
                if waiting.deadline is not None and waiting.deadline <= now:
                    self.waiting.discard(waiting)
                    try:
                        waiting.expire()
                    except Exception:  # one wait's bug must not stop the others' deadlines
                        log.exception("expiring a body wait failed")
        finally:
            self.timer = self.loop.call_later(TICK_S, self._sweep) if self.waiting else None
