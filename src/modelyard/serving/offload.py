"""Decoding and encoding off the event loop, inside the request's timeout, and the memory
bound of one request.

A body above :data:`INLINE_BYTES` (or compressed: its size says nothing of its cost) is
decoded in a worker thread, and an answer of more than :data:`ENCODE_INLINE_ROWS` rows encoded
in one, so that health checks and other requests keep being answered while a 16 MB body
is parsed. Decoding, scoring and encoding share the request's one timeout (``--timeout``):
past it the caller gets 504, whichever step was running. A decoded request may hold at most
:data:`MAX_CELLS` values (rows x columns): past it, 413 naming both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread

from modelyard.errors import PayloadTooLarge, ScoringTimeout

INLINE_BYTES = 64 * 1024
ENCODE_INLINE_ROWS = 2048  # answers of up to this many rows are encoded on the event loop
MAX_CELLS = 10_000_000  # 80 MB of float64 once decoded
FEW_VALUES = 64  # predictions checked value by value in Python up to this many (numpy's
# reductions cost more on a request's few values)
T = TypeVar("T")


class Deadline:
    """The time left to a request, from the moment its body is read."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.ends = time.monotonic() + timeout_s

    def left(self) -> float:
        """Seconds left; ``ScoringTimeout`` (504) if none."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise ScoringTimeout(f"the request took longer than {self.timeout_s:g} s")
        return left

    async def run(self, inline: bool, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` on the loop if ``inline``, else in a worker thread that the
        request stops waiting for when the deadline passes (504)."""
        if inline:
            return function(*args)
        try:
            with anyio.fail_after(self.left()):
                return await anyio.to_thread.run_sync(
                    partial(function, *args), abandon_on_cancel=True
                )
        except TimeoutError:
            raise ScoringTimeout(f"the request took longer than {self.timeout_s:g} s") from None


def decodes_inline(body: bytes, content_encoding: str | None) -> bool:
    """Whether a body is small enough to decode on the event loop."""
    return len(body) <= INLINE_BYTES and content_encoding in (None, "", "identity")


def check_cells(rows: int, columns: int) -> None:
    """Raise ``PayloadTooLarge`` (413) if ``rows`` x ``columns`` is over :data:`MAX_CELLS`."""
    if rows * columns > MAX_CELLS:
        raise PayloadTooLarge(
            f"the request holds {rows} rows x {columns} columns = {rows * columns} values; "
            f"the limit is {MAX_CELLS}: send it in smaller batches"
        )
