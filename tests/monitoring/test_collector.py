"""The collector turns its buffer into a batch's items on the thread that offers the last
row of a chunk: a chunk's scored requests as one item, each observation as a record; one
that cannot be written is dropped and counted, never the rest of its batch."""

from __future__ import annotations

import threading

from modelyard.monitoring import wire
from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation
from modelyard.storage.schema import utcnow
from tests.helpers.monitoring import Kept


def request(n: int) -> bytes:
    """A scored request of one row, as the collection hook writes it."""
    fields = (f"r{n}", utcnow().timestamp(), 1.0, 200, "churn", 1, "champion")
    return wire.scored("churn", ["age"], [0, 1], fields, [[30.0 + n]], [[0.5, 0.5]])


class Noted:
    """A value that notes which thread wrote it as JSON (through ``str``)."""

    threads: list[int] = []

    def __str__(self) -> str:
        Noted.threads.append(threading.get_ident())
        return "noted"


def observation(n: int, value: object = None) -> Observation:
    return Observation(
        "script",
        f"o{n}",
        utcnow(),
        source="collector",
        inputs=[{"x": Noted() if value is None else value}],
    )


def request_ids(items: list[Observation | wire.Group]) -> list[str]:
    ids: list[str] = []
    for item in items:
        ids += item.fields["request_id"] if isinstance(item, wire.Group) else [item.request_id]
    return sorted(ids)


def test_a_chunks_scored_requests_are_one_item_and_only_the_bad_observation_is_lost() -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=100, flush_s=0.05)
    collector.start()
    try:
        for n in range(5):
            assert collector.offer_scored(request(n), 1)
        assert collector.flush(10)
        assert [type(item) for item in sink.items] == [wire.Group]  # one group
        assert collector.offer_scored(request(5), 1)
        assert collector.offer(observation(6, 2**70))  # JSON holds no integer that large
        assert collector.offer(observation(7, "fine"))
        assert collector.flush(10)
    finally:
        collector.stop()
    stats = collector.stats()
    assert (stats.written, stats.dropped, stats.queued) == (7, 1, 0)
    assert request_ids(sink.items) == ["o7", "r0", "r1", "r2", "r3", "r4", "r5"]


def test_a_full_buffer_drops_and_counts_what_is_offered() -> None:
    collector = Collector(Kept(), max_rows=2)
    assert collector.offer_scored(request(1), 2)
    assert not collector.offer_scored(request(2), 1)
    assert not collector.offer(observation(3, "x"))
    assert collector.stats().dropped == 2 and collector.stats().queued == 2


def test_a_full_chunk_is_written_by_the_thread_that_offers_its_last_row() -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=4, flush_s=30.0)
    Noted.threads = []
    collector.start()
    try:
        for n in range(6):
            collector.offer(observation(n))
        # the first four were written here, at once; the other two wait for their batch
        assert Noted.threads == [threading.get_ident()] * 4 and collector.stats().queued == 6
        assert collector.flush(10)  # what waits is written on the collector's thread
        assert len(Noted.threads) == 6 and threading.get_ident() not in Noted.threads[4:]
    finally:
        collector.stop()
    assert collector.stats().written == 6 and request_ids(sink.items) == [f"o{n}" for n in range(6)]
