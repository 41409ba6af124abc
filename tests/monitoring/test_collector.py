"""The collector's thread builds what it is offered to build later, and turns its buffer
into a batch's items: one that cannot be built or written is dropped and counted, never
the rest of its batch."""

from __future__ import annotations

import threading

import numpy as np

from modelyard.monitoring import wire
from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation
from modelyard.storage.schema import utcnow


class Kept:
    """A sink that keeps the batches it is handed, decoded."""

    def __init__(self) -> None:
        self.items: list[Observation | wire.Group] = []

    def __call__(self, records: list[bytes]) -> None:
        self.items += wire.decode_batch(wire.batch(records))

    def close(self, timeout_s: float = 5.0) -> None:
        """Nothing to release."""


def built(n: int) -> Observation:
    if n == 3:
        raise RuntimeError("a request whose observation cannot be built")
    value: object = 2**70 if n == 5 else 30.0 + n  # JSON holds no integer that large
    return Observation(
        "churn",
        f"r{n}",
        utcnow(),
        inputs={"age": np.array([value], dtype=object if n == 5 else float)},
        outputs=np.array([0.5]),
        latency_ms=1.0,
    )


def request_ids(items: list[Observation | wire.Group]) -> list[str]:
    ids: list[str] = []
    for item in items:
        ids += item.fields["request_id"] if isinstance(item, wire.Group) else [item.request_id]
    return sorted(ids)


def test_observations_are_built_on_the_thread_and_only_the_bad_ones_are_lost() -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=100, flush_s=0.05)
    made: list[int] = []

    def build(n: int) -> Observation:
        made.append(n)
        return built(n)

    collector.start()
    try:
        for n in range(5):
            assert collector.offer_later(build, n, 1)
        assert collector.flush(10)
        # the alike ones travel as one group
        assert [type(item) for item in sink.items] == [wire.Group]
        for n in range(5, 8):  # the one JSON cannot hold sends its group as records
            assert collector.offer_later(build, n, 1)
        assert collector.offer(built(8))
        assert collector.flush(10)
    finally:
        collector.stop()
    assert sorted(made) == list(range(8))
    stats = collector.stats()
    assert (stats.written, stats.dropped, stats.queued) == (7, 2, 0)
    assert request_ids(sink.items) == ["r0", "r1", "r2", "r4", "r6", "r7", "r8"]


def test_a_full_buffer_drops_what_is_offered_later_without_building_it() -> None:
    collector = Collector(Kept(), max_rows=2)
    calls: list[int] = []
    assert collector.offer_later(calls.append, 1, 2)  # type: ignore[arg-type]
    assert not collector.offer_later(calls.append, 2, 1)  # type: ignore[arg-type]
    assert calls == [] and collector.stats().dropped == 1


def test_a_full_batch_is_built_by_the_thread_that_offers_its_last_row() -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=4, flush_s=30.0)
    threads: list[int] = []

    def build(n: int) -> Observation:
        threads.append(threading.get_ident())
        return built(n)

    collector.start()
    try:
        for n in (0, 1, 2, 4, 6, 7):  # all of them good ones
            collector.offer_later(build, n, 1)
        # the first four were built here, at once; the other two wait for their batch
        assert threads == [threading.get_ident()] * 4 and collector.stats().queued == 6
        assert collector.flush(10)  # what waits is built on the collector's thread
        assert len(threads) == 6 and threading.get_ident() not in threads[4:]
    finally:
        collector.stop()
    assert collector.stats().written == 6 and sink.items
