"""Every Prometheus metric a serving replica exports, defined once.

With ``modelyard serve --workers N`` (N > 1) each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (set up and removed by ``serve``) and ``/metrics`` sums them
over the live workers (``exposition``); in one process they are read from the default
registry. Label values are bounded: the endpoint label holds a name the replica serves
(``UNKNOWN`` for any other), the version a registered version number.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNKNOWN = "(unknown)"  # the endpoint label of a request for a name this replica does not serve
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

REQUESTS = Counter(
    "modelyard_requests",
    "Scoring requests answered, by endpoint, answering version, protocol and status.",
    ["endpoint", "version", "protocol", "status"],
)
LATENCY = Histogram(
    "modelyard_request_duration_seconds",
    "Time from the request's arrival to its answer, by endpoint and protocol.",
    ["endpoint", "protocol"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "modelyard_requests_in_flight",
    "Scoring requests being answered now (summed over live workers).",
    ["protocol"],
    multiprocess_mode="livesum",
)
REQUEST_BYTES = Histogram(
    "modelyard_request_body_bytes",
    "Size of scoring request bodies, by protocol.",
    ["protocol"],
    buckets=SIZE_BUCKETS,
)
RESPONSE_BYTES = Histogram(
    "modelyard_response_body_bytes",
    "Size of scoring response bodies, by protocol.",
    ["protocol"],
    buckets=SIZE_BUCKETS,
)
SWAPS = Counter(
    "modelyard_swaps",
    "Versions swapped in by a replica following an alias, by endpoint.",
    ["endpoint"],
)
LOAD_FAILURES = Counter(
    "modelyard_load_failures",
    "Versions that failed to load, warm up or pass the package check, by endpoint.",
    ["endpoint"],
)
VERSION_IN_USE = Gauge(
    "modelyard_version_in_use",
    "The version each alias an endpoint answers from resolves to on this replica.",
    ["endpoint", "alias"],
    multiprocess_mode="livemax",
)
CANARY = Counter(
    "modelyard_canary_requests",
    "Requests of an endpoint with a traffic split, by the alias that answered.",
    ["endpoint", "alias"],
)
MIRROR = Counter(
    "modelyard_mirror_requests",
    "Mirrored requests by endpoint, mirrored alias and outcome "
    "(compared, failed: the alias could not score, dropped: the queue was full).",
    ["endpoint", "alias", "outcome"],
)
COLLECTION_DROPPED = Counter(
    "modelyard_collection_dropped",
    "Collected rows dropped (the buffer full or the store refusing them), never silently.",
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format and its content type: summed over the live
    workers in multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
