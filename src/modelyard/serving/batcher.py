"""Adaptive micro-batching: concurrent requests to one endpoint scored as one batch.

The first waiting request opens a batch; the batch is scored as soon as it holds
``max_rows`` rows or ``max_wait_ms`` has passed since it opened, whichever comes first.
Under light load a request waits at most ``max_wait_ms``; under heavy load batches fill
at once and the model's per-call overhead is paid once per batch. If a batch fails, each
request is scored alone, so one request's bad rows never fail another's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from modelyard.serving.scorer import Scored


@dataclass(frozen=True)
class BatchOptions:
    """Batch up to ``max_rows`` rows, waiting at most ``max_wait_ms`` for them."""

    max_rows: int = 64
    max_wait_ms: float = 2.0


class MicroBatcher:
    """Collects frames from concurrent callers and scores them together."""

    def __init__(
        self,
        score: Callable[[pd.DataFrame], Scored],
        options: BatchOptions,
    ) -> None:
        self._score = score
        self.options = options
        self._queue: asyncio.Queue[tuple[pd.DataFrame, asyncio.Future[Scored]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, frame: pd.DataFrame) -> Scored:
        """Score ``frame`` as part of the next batch."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop())
        future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
        await self._queue.put((frame, future))
        return await future

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            rows = len(first[0])
            deadline = asyncio.get_running_loop().time() + self.options.max_wait_ms / 1000
            while rows < self.options.max_rows:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(item)
                rows += len(item[0])
            await self._run(batch)

    async def _run(self, batch: list[tuple[pd.DataFrame, asyncio.Future[Scored]]]) -> None:
        self.batches += 1
        live = [(frame, future) for frame, future in batch if not future.cancelled()]
        if not live:
            return
        if len(live) > 1:
            try:
                joined = pd.concat([frame for frame, _ in live], ignore_index=True)
                scored = await asyncio.to_thread(self._score, joined)
            except Exception:  # score each request alone below
                scored = None
            if scored is not None:
                bounds = np.cumsum([len(frame) for frame, _ in live])[:-1]
                parts = np.split(scored.predictions, bounds)
                for (_, future), part in zip(live, parts, strict=True):
                    if not future.done():
                        future.set_result(replace(scored, predictions=part))
                return
        for frame, future in live:
            try:
                result = await asyncio.to_thread(self._score, frame)
            except Exception as exc:  # handed to the request that caused it
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)
