"""The executor contract: where a piece of work runs.

An executor runs a callable for its caller and hands back its result, so the caller (a
worker running a training) records the work exactly as if it had run the callable itself.
``submit`` runs one call (``local``: in-process; ``ray``: a task on a cluster); ``map``
runs one call per item at once (``local``: a pool of processes; ``ray``: one task each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")
S = TypeVar("S")
OnResult = Callable[[int, T], None]
"""Called in the caller's thread with (item index, result) as each call of ``map`` ends."""


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

    def map(
        self,
        fn: Callable[[A, S], T],
        items: Sequence[A],
        shared: S,
        *,
        on_result: OnResult[T] | None = None,
    ) -> list[T]:
        """``[fn(item, shared) for item in items]``, the calls running at the same time
        where this executor runs work; results in the order of ``items``.

        ``shared`` (the data every call needs) travels once per worker, not once per
        item. ``on_result`` hears of each result as it comes. ``fn`` must be importable;
        an exception one call raises is raised here (the others are left to finish).
        """
        ...

    def describe(self) -> str:
        """Where the work runs, for logs (never a secret)."""
        ...

    def close(self) -> None:
        """Release connections; the executor may not be used afterwards."""
        ...
