"""The data plane's collection hook (monitoring): an answered exchange is offered to
the collector, for endpoints that collect (and this request
sampled). Model endpoints' refused requests count too (they make the error rate), from
the moment their body was decoded; an entry script's answer gives its status and
latency (its rows come from the script's own ``ModelDataCollector``).

A scored request is written as JSON at once (``monitoring.wire.scored``: its fields and
the ``tolist()`` of its columns and predictions, a few microseconds), so that the
collector holds bytes rather than the request's arrays; the writer process turns them
into columns and rows (building an ``Observation`` per request and concatenating the
columns of a chunk cost the serving process 6.4 µs a request in a loop of this hook; this
costs 4.4: bench/collect_hook.py).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import numpy as np
import pandas as pd

from modelyard.monitoring import wire
from modelyard.monitoring.collector import UNWRITABLE, Collector
from modelyard.monitoring.observation import Observation, sampled
from modelyard.serving.dataplane import Exchange, Hook
from modelyard.storage.schema import utcnow

log = logging.getLogger("modelyard.monitoring")


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
        try:
            data = scored(exchange)
        except Exception:  # a bug, not the request's: logged, the request kept as a record
            log.exception("collection: request %s could not be written", exchange.request_id)
            data = None
        if data is None:  # refused, not scored, or not as columns by name: a record
            collector.offer(observed(exchange))
        else:
            collector.offer_scored(data, len(exchange.scored.predictions))  # type: ignore[union-attr]

    return collect


def scored(exchange: Exchange) -> bytes | None:
    """A model endpoint's scored ``exchange`` as the collector keeps it
    (``monitoring.wire.scored``), or None: not scored, no rows, or a value JSON cannot
    hold (it is offered as an observation instead). A request scored and then refused
    (its answer could not be encoded) is not: its record names the error."""
    answer, scorer, columns = exchange.scored, exchange.scorer, exchange.columns
    if answer is None or scorer is None or exchange.error is not None or exchange.source != "model":
        return None
    predictions = answer.predictions
    if not len(predictions):
        return None
    if type(columns) is dict:
        names: list[str] = list(columns)
        values = [c.tolist() if type(c) is np.ndarray else list(c) for c in columns.values()]
    elif isinstance(columns, pd.DataFrame):  # a model without a compiled scorer
        names = [str(c) for c in columns.columns]
        values = [columns[c].tolist() for c in columns.columns]
    else:
        return None
    version = answer.version
    fields = (
        exchange.request_id,
        time.time(),  # answered a moment ago
        (exchange.answered - exchange.started) * 1000,
        exchange.status,
        version.name,
        version.version,
        scorer.target.alias,
    )
    try:
        return wire.scored(
            exchange.endpoint, names, answer.classes, fields, values, predictions.tolist()
        )
    except UNWRITABLE:
        return None


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
