"""Reading a request body under a size limit and a deadline.

The body of an admitted request must arrive whole within ``timeout_s`` of its first read
and within ``max_bytes``: a client that sends half a body and waits holds its in-flight
slot no longer than that, and gets 408 (``BodyTimeout``); one past the size gets 413.
Whoever reads the body (a FastAPI route, the fast route, the entry-script proxy) reads it
through :class:`BodyReader`; the error it met is kept, so that the limits middleware can
answer it from the error table even when a framework turned it into something else.
"""

from __future__ import annotations

import time

import anyio
from starlette.types import Message, Receive

from modelyard.errors import BodyTimeout, ModelyardError, PayloadTooLarge


class BodyReader:
    """A ``receive`` callable that enforces the limits on ``http.request`` messages."""

    def __init__(self, receive: Receive, max_bytes: int, timeout_s: float) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.received = 0
        self.complete = False
        self.error: ModelyardError | None = None
        self._deadline: float | None = None

    async def __call__(self) -> Message:
        """The next message; raises ``BodyTimeout`` or ``PayloadTooLarge`` (and keeps it)."""
        if self.complete:  # the body is whole: waiting for a disconnect is not limited
            return await self._receive()
        if self._deadline is None:
            self._deadline = time.monotonic() + self.timeout_s
        try:
            with anyio.fail_after(max(0.0, self._deadline - time.monotonic())):
                message = await self._receive()
        except TimeoutError:
            self.error = BodyTimeout(
                f"the body did not arrive within {self.timeout_s:g} s: send it whole, "
                f"{self.received} bytes came"
            )
            raise self.error from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.error = PayloadTooLarge(
                    f"the body is over the limit of {self.max_bytes} bytes"
                )
                raise self.error
            self.complete = not message.get("more_body", False)
        return message
