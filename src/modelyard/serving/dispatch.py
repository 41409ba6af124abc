"""Where a request's rows are scored: on the event loop, in a worker thread, or through
the endpoint's micro-batcher; under the server's timeout."""

from __future__ import annotations

from collections.abc import Awaitable

import anyio
import pandas as pd
from starlette.concurrency import run_in_threadpool

from modelyard.errors import ScoringTimeout
from modelyard.serving.batcher import MicroBatcher
from modelyard.serving.protocols.codec import Columns
from modelyard.serving.scorer import Scored, Scorer
from modelyard.types import Signature

SCORE_INLINE_ROWS = 32  # up to this many rows, a compiled scorer runs on the event loop


async def dispatch(
    scorer: Scorer, batcher: MicroBatcher | None, columns: Columns, timeout_s: float
) -> Scored:
    """Score ``columns`` with ``scorer``, through ``batcher`` when the endpoint has one."""
    if batcher is not None:
        return await timed(batcher.submit(as_frame(columns, scorer.signature)), timeout_s)
    return await score_now(scorer, columns, timeout_s)


async def score_now(scorer: Scorer, columns: Columns, timeout_s: float) -> Scored:
    """Score on the event loop for a few rows and a compiled scorer (tens of microseconds,
    less than the hand-off to a thread), else in a worker thread under ``timeout_s``."""
    if scores_inline(scorer, rows(columns)):
        return scorer.score(columns)
    return await timed(run_in_threadpool(scorer.score, columns), timeout_s)


def scores_inline(scorer: Scorer, count: int) -> bool:
    """Whether ``count`` rows are scored on the event loop: a compiled scorer, few rows."""
    current = scorer.current
    return current is not None and current.compiled is not None and count <= SCORE_INLINE_ROWS


async def timed(scoring: Awaitable[Scored], timeout_s: float) -> Scored:
    """Await ``scoring``; 504 (``ScoringTimeout``) past ``timeout_s``."""
    try:
        with anyio.fail_after(timeout_s):
            return await scoring
    except TimeoutError:
        raise ScoringTimeout(f"the model took longer than {timeout_s:g} s") from None


def rows(columns: Columns) -> int:
    """How many rows ``columns`` holds."""
    if isinstance(columns, pd.DataFrame):
        return len(columns)
    return len(next(iter(columns.values()), ()))


def as_frame(columns: Columns, signature: Signature | None) -> pd.DataFrame:
    """``columns`` as a DataFrame in signature order (the micro-batcher concatenates frames)."""
    if isinstance(columns, pd.DataFrame):
        return columns
    names = signature.names if signature is not None else list(columns)
    return pd.DataFrame({name: columns[name] for name in names}, columns=names)
