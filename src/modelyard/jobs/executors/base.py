"""The executor contract: where a piece of work runs.

An executor runs one callable at a time for its caller and hands back its result, so
the caller (a worker running a training) records the work exactly as if it had run the
callable itself. ``local`` runs it in-process; ``ray`` runs it as a task on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Executor(Protocol):
    """Runs callables somewhere and waits for them."""

    kind: str
    """The ``[executor] kind`` this executor implements ("local", "ray")."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` where this executor runs work and return its result.

        Synchronous from the caller's side. An exception ``fn`` raises is raised here as
        the same type with the same attributes (a ``ModelyardError`` keeps its ``code``
        and details). ``fn`` and its arguments must be importable or picklable where the
        work runs.
        """
        ...

    def describe(self) -> str:
        """Where the work runs, for logs (never a secret)."""
        ...

    def close(self) -> None:
        """Release connections; the executor may not be used afterwards."""
        ...
