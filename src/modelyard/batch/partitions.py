"""Partitions: key ranges of one job, each scored by its own executor task with its own
watermark (local processes, or Ray tasks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelyard.errors import ConfigError
from modelyard.storage.queue import CANCELLED

if TYPE_CHECKING:
    from modelyard.batch.runner import BatchRunner

Range = tuple[Any, Any]  # (after, upto): keys with after < key <= upto; None = open


def split_range(low: Any, high: Any, parts: int) -> list[Range]:
    """``parts`` key ranges covering [low, high] (integer keys); one open range otherwise."""
    if low is None or high is None:
        return [(None, None)]
    if not isinstance(low, int) or not isinstance(high, int):
        raise ConfigError("--partitions needs an integer --key (ranges split the key)")
    span = high - low + 1
    cuts = [low - 1 + (span * i) // parts for i in range(parts + 1)]
    ranges: list[Range] = [(cuts[i], cuts[i + 1]) for i in range(parts)]
    ranges[0] = (None, ranges[0][1])
    ranges[-1] = (ranges[-1][0], None)
    return ranges


def score_partition(item: tuple[str, int], opener: Callable[[], BatchRunner]) -> int:
    """One partition as an executor task: a runner of its own, stopped by a cancel."""
    job_id, part = item
    runner = opener()
    try:

        def stopped() -> bool:
            return runner.store.get(job_id).state == CANCELLED

        return runner.run_partition(job_id, part, stopped)
    finally:
        runner.close()
