"""The default executor: the work runs in the calling process (a worker of ``modelyard up``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class LocalExecutor:
    """Runs each callable in-process, in the calling thread."""

    kind = "local"

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` and return what it returns (or raise what it raises)."""
        return fn(*args, **kwargs)

    def describe(self) -> str:
        """``local``."""
        return "local"

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "LocalExecutor()"
