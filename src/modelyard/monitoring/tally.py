"""The request metrics of one process, counted in plain Python and added to Prometheus'
values in batches.

A scoring request touches five metrics (requests, latency, body sizes in and out, in
flight). Through prometheus-client each touch takes a lock and, with ``--workers N``, writes
a memory-mapped file: some 25 microseconds a request, a tenth of what a one-row request
costs in all. :class:`RequestTally` counts in dictionaries instead, and a background thread
adds what was counted to the metrics every :data:`FLUSH_S` seconds; ``/metrics`` adds this
worker's own counts first (:func:`flush`). So a scrape may lag another worker's last
half-second of requests, and a worker killed with SIGKILL loses at most that much; nothing
is ever counted twice.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from modelyard.monitoring.prometheus import (
    IN_FLIGHT,
    LATENCY,
    LATENCY_BUCKETS,
    REQUEST_BYTES,
    REQUESTS,
    RESPONSE_BYTES,
    SIZE_BUCKETS,
)

FLUSH_S = 0.5  # how long counts may wait before they reach the metrics


class _Histogram:
    """Observations of one label set: per bucket counts (the last is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # Prometheus' buckets: value <= le
        self.total += value

    def add_to(self, child: Any) -> None:
        """Add these observations to prometheus-client's histogram ``child``: its sum and
        its (non-cumulative) bucket values, which ``observe`` itself increments."""
        child._sum.inc(self.total)
        for index, count in enumerate(self.counts):
            if count:
                child._buckets[index].inc(count)


class _Series:
    """What was counted for one endpoint and protocol: answers by version and status,
    latency, body sizes in and out."""

    __slots__ = ("answers", "latency", "received", "sent")

    def __init__(self) -> None:
        self.answers: dict[tuple[str, int], int] = {}
        self.latency = _Histogram(LATENCY_BUCKETS)
        self.received = _Histogram(SIZE_BUCKETS)
        self.sent = _Histogram(SIZE_BUCKETS)


class RequestTally:
    """Counts of answered requests by label set, and requests in flight by protocol."""

    def __init__(self, flush_s: float = FLUSH_S) -> None:
        self.flush_s = flush_s
        self._lock = threading.Lock()  # the gRPC listener may count from another thread
        self._series: dict[tuple[str, str], _Series] = {}  # by endpoint and protocol
        self._in_flight: dict[str, int] = {}
        self._shown_in_flight: dict[str, int] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, protocol: str) -> None:
        """A request of ``protocol`` is being answered."""
        with self._lock:
            self._in_flight[protocol] = self._in_flight.get(protocol, 0) + 1
        self._pending()

    def end(
        self,
        protocol: str,
        endpoint: str,
        version: str,
        status: int,
        seconds: float,
        received: int,
        sent: int,
        *,
        begun: bool = True,
    ) -> None:
        """The request of ``protocol`` begun with :meth:`begin` was answered; with
        ``begun=False``, one answered without ever waiting (the scoring lane's), never
        shown in flight."""
        key = (version, status)
        with self._lock:
            if begun:
                self._in_flight[protocol] -= 1
            elif protocol not in self._in_flight:  # the gauge shows 0 for a protocol
                self._in_flight[protocol] = 0  # whose requests never waited
            series = self._series.get((endpoint, protocol))
            if series is None:
                series = self._series[endpoint, protocol] = _Series()
            answers = series.answers
            answers[key] = answers.get(key, 0) + 1
            series.latency.observe(seconds)
            series.received.observe(received)
            series.sent.observe(sent)
        self._pending()

    def abandon(self, protocol: str) -> None:
        """A request begun with :meth:`begin` is not in flight any more and is not counted
        here (another path answers it, or its client went)."""
        with self._lock:
            self._in_flight[protocol] -= 1
        self._pending()

    def flush(self) -> None:
        """Add everything counted so far to the Prometheus metrics."""
        with self._lock:
            counted, self._series = self._series, {}
            in_flight = dict(self._in_flight)
        for (endpoint, protocol), series in counted.items():
            for (version, status), count in series.answers.items():
                REQUESTS.labels(endpoint, version, protocol, str(status)).inc(count)
            series.latency.add_to(LATENCY.labels(endpoint, protocol))
            series.received.add_to(REQUEST_BYTES.labels(protocol))
            series.sent.add_to(RESPONSE_BYTES.labels(protocol))
        for protocol, count in in_flight.items():
            if self._shown_in_flight.get(protocol) != count:
                IN_FLIGHT.labels(protocol).set(count)
                self._shown_in_flight[protocol] = count

    def _pending(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="modelyard-metrics", daemon=True
                    )
                    self._thread.start()
        if not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.flush_s)
            self._wake.clear()
            self.flush()


TALLY = RequestTally()
"""The process's tally: every transport (HTTP, gRPC) counts its requests here."""


def flush() -> None:
    """Add this process's counts to the metrics now (before a scrape, at shutdown)."""
    TALLY.flush()
