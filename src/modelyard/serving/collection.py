"""The data plane's collection hook (monitoring): an answered exchange becomes an
``Observation`` offered to the collector, for endpoints that collect (and this request
sampled). Model endpoints' refused requests count too (they make the error rate), from
the moment their body was decoded; an entry script's answer gives its status and
latency (its rows come from the script's own ``ModelDataCollector``).

A scored request's observation is built on the collector's thread, from the exchange
and the moment it was answered: the request's path only notes that moment and appends
the exchange to the collector's buffer (building it there cost 2 % of the request rate).
"""

from __future__ import annotations

import time
from datetime import timedelta

from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation, sampled
from modelyard.serving.dataplane import Exchange, Hook
from modelyard.storage.schema import utcnow


def collection(collector: Collector) -> Hook:
    """The after hook that offers each collected exchange to ``collector``; never blocks."""

    def collect(exchange: Exchange) -> None:
        record = exchange.record
        if record is None or not record.collect:
            return
        if exchange.source == "model" and not exchange.decoding:
            return  # refused before its rows were read: not the model's traffic
        if not sampled(record.sampling_rate):
            return
        exchange.answered = time.perf_counter()
        scored = exchange.scored
        if scored is None or exchange.source != "model":  # the version in use now
            collector.offer(observed(exchange))
        else:
            collector.offer_later(observed, exchange, max(1, len(scored.predictions)))

    return collect


def observed(exchange: Exchange) -> Observation:
    """The observation of ``exchange``, answered at ``exchange.answered``."""
    record = exchange.record
    assert record is not None
    latency_ms = (exchange.answered - exchange.started) * 1000
    scored_at = utcnow() - timedelta(seconds=time.perf_counter() - exchange.answered)
    scorer = exchange.scorer
    if exchange.source != "model" or scorer is None:
        return Observation(
            record.name,
            exchange.request_id,
            scored_at,
            exchange.source,
            exchange.status,
            latency_ms,
        )
    scored, error = exchange.scored, exchange.error
    current = scorer.current
    version = scored.version if scored is not None else (current.version if current else None)
    return Observation(
        record.name,
        exchange.request_id,
        scored_at,
        exchange.source,
        exchange.status,
        latency_ms,
        version.name if version else scorer.target.name,
        version.version if version else None,
        scorer.target.alias,
        exchange.columns if error is None else None,
        scored.predictions if scored is not None else None,
        scored.classes if scored is not None else None,
        error.code if error is not None else None,
    )
