"""Benchmark: what the collection hook costs the serving process per scored request, in a
loop of the hook alone (steadier than a served run's request rate, which varies by ±3 %
from run to run on a 2-core machine). It prints figures and asserts nothing.

    .venv/bin/python bench/collect_hook.py [--requests 100000] [--rounds 3]
    PYTHONPATH=/path/to/other/worktree/src .venv/bin/python bench/collect_hook.py  # another commit

Each request is an ``Exchange`` as the data plane leaves it after scoring seed 003's churn
model on one row (ten decoded numpy columns, two of them text; a row of two class
probabilities), made afresh for every request as the data plane makes it; the hook is
``serving.collection.collection`` over a started ``Collector`` whose sink discards the
batches (the writer process is not measured: it runs in a process of its own). The
garbage collector is set as ``modelyard serve`` sets it. The figure is the time of
making and collecting each request minus the time of making it alone.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from modelyard.monitoring.collector import Collector
from modelyard.serving.collection import collection
from modelyard.serving.dataplane import Exchange
from modelyard.serving.runtime import GC_THRESHOLDS

ROW: dict[str, Any] = {
    "CreditScore": 693, "Geography": "Germany", "Gender": "Female", "Age": 73, "Tenure": 7,
    "Balance": 102209.83, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 0,
    "EstimatedSalary": 39767.12,
}  # fmt: skip


class Discard:
    """A sink that drops every batch."""

    def __call__(self, records: list[bytes]) -> None:
        """Drop ``records``."""

    def close(self, timeout_s: float = 5.0) -> None:
        """Nothing to release."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    record = SimpleNamespace(name="churn", collect=True, sampling_rate=1.0)
    scorer = SimpleNamespace(target=SimpleNamespace(name="churn", alias="champion"), current=None)
    version = SimpleNamespace(name="churn", version=1)
    columns = {
        k: np.array([v], dtype=object if isinstance(v, str) else None) for k, v in ROW.items()
    }

    def make() -> Exchange:
        exchange = Exchange("churn", "azureml", "r", time.perf_counter(), record, scorer)  # type: ignore[arg-type]
        exchange.columns = {k: v.copy() for k, v in columns.items()}
        exchange.scored = SimpleNamespace(  # type: ignore[assignment]
            predictions=np.array([[0.33, 0.67]], np.float32), version=version, classes=[0, 1]
        )
        exchange.decoding = True
        return exchange

    collector = Collector(Discard(), max_rows=10_000, batch_rows=1_000, flush_s=0.5)
    collector.start()
    hook = collection(collector)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

    def run(collect: bool) -> float:
        began = time.perf_counter()
        for _ in range(args.requests):
            exchange = make()
            if collect:
                hook(exchange)
        return (time.perf_counter() - began) / args.requests * 1e6

    costs = []
    for _ in range(args.rounds):
        alone, collected = run(False), run(True)
        costs.append(collected - alone)
    collector.stop()
    written = collector.stats().written
    print(
        f"collection hook: {statistics.median(costs):.2f} µs per scored churn request "
        f"(median of {args.rounds} rounds of {args.requests:,}; {written:,} rows written)"
    )


if __name__ == "__main__":
    main()
