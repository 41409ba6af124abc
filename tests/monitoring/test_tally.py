"""The request tally: counts kept in plain Python reach prometheus-client's own metrics
whole, in the right histogram buckets, once flushed, and by themselves within FLUSH_S."""

from __future__ import annotations

import time
import uuid

from prometheus_client import REGISTRY

from modelyard.monitoring.tally import RequestTally


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_flushed_counts_equal_what_was_answered_bucket_by_bucket() -> None:
    endpoint = f"tally-{uuid.uuid4().hex[:8]}"
    tally = RequestTally(flush_s=3600)  # only the explicit flush below adds anything
    for seconds, status in [(0.0004, 200), (0.002, 200), (0.002, 422), (30.0, 200)]:
        tally.begin("tally-test")
        tally.end("tally-test", endpoint, "3", status, seconds, received=100, sent=40)
    tally.begin("tally-test")  # still in flight when flushed
    requests = {"endpoint": endpoint, "version": "3", "protocol": "tally-test"}
    assert _value("modelyard_requests_total", **requests, status="200") == 0.0

    tally.flush()

    assert _value("modelyard_requests_total", **requests, status="200") == 3.0
    assert _value("modelyard_requests_total", **requests, status="422") == 1.0
    latency = {"endpoint": endpoint, "protocol": "tally-test"}
    name = "modelyard_request_duration_seconds"
    assert _value(f"{name}_bucket", **latency, le="0.0005") == 1.0  # cumulative buckets
    assert _value(f"{name}_bucket", **latency, le="0.0025") == 3.0
    assert _value(f"{name}_bucket", **latency, le="10.0") == 3.0
    assert _value(f"{name}_bucket", **latency, le="+Inf") == 4.0
    assert _value(f"{name}_count", **latency) == 4.0
    assert abs(_value(f"{name}_sum", **latency) - 30.0044) < 1e-9
    assert _value("modelyard_requests_in_flight", protocol="tally-test") == 1.0

    tally.end("tally-test", endpoint, "3", 200, 0.001, received=100, sent=40)
    tally.flush()
    assert _value("modelyard_requests_total", **requests, status="200") == 4.0
    assert _value("modelyard_requests_in_flight", protocol="tally-test") == 0.0


def test_counts_reach_the_metrics_by_themselves_within_the_flush_period() -> None:
    endpoint = f"tally-{uuid.uuid4().hex[:8]}"
    tally = RequestTally(flush_s=0.05)
    tally.begin("v2")
    tally.end("v2", endpoint, "1", 200, 0.001, received=10, sent=10)
    labels = {"endpoint": endpoint, "version": "1", "protocol": "v2", "status": "200"}
    deadline = time.monotonic() + 5
    while _value("modelyard_requests_total", **labels) != 1.0:
        assert time.monotonic() < deadline, "the tally was never added to the metrics"
        time.sleep(0.01)


def test_body_sizes_of_endpoints_sharing_a_protocol_add_up() -> None:
    protocol = f"tally-{uuid.uuid4().hex[:8]}"
    tally = RequestTally(flush_s=3600)
    tally.end(protocol, "first", "1", 200, 0.001, received=100, sent=10, begun=False)
    tally.end(protocol, "second", "2", 200, 0.001, received=300, sent=30, begun=False)
    tally.end(protocol, "second", "2", 404, 0.001, received=50, sent=5, begun=False)
    tally.flush()
    assert _value("modelyard_request_body_bytes_count", protocol=protocol) == 3.0
    assert _value("modelyard_request_body_bytes_sum", protocol=protocol) == 450.0
    assert _value("modelyard_response_body_bytes_sum", protocol=protocol) == 45.0
    labels = {"endpoint": "second", "version": "2", "protocol": protocol}
    assert _value("modelyard_requests_total", **labels, status="404") == 1.0
    assert _value("modelyard_requests_in_flight", protocol=protocol) == 0.0
