"""The in-flight cap: a count of admitted requests, taken only once a request is
authorised and given back when its answer is sent (or its body timed out)."""

from __future__ import annotations

from modelyard.errors import Overloaded


class Slots:
    """At most ``limit`` admitted requests at once in this worker (one event loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    @property
    def free(self) -> bool:
        """Whether a slot is free now."""
        return self.taken < self.limit

    def take(self) -> None:
        """Take a slot; ``Overloaded`` (429 with Retry-After) if none is free."""
        if not self.free:
            raise Overloaded(f"{self.taken} requests in flight: retry shortly")
        self.taken += 1

    def give(self) -> None:
        """Give a taken slot back."""
        self.taken -= 1
