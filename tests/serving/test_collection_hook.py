"""The data plane's collection hook: a scored request (decoded as numpy columns, or as a
DataFrame for a model without a compiled scorer) reaches the writer as a group of the
values it was answered with; a refused one as a record with its status."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import ModelyardError
from modelyard.monitoring import wire
from modelyard.monitoring.batch import Batch
from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation
from modelyard.serving.collection import collection
from modelyard.serving.dataplane import Exchange
from tests.helpers.monitoring import Kept


def exchange(n: int, columns: Any, *, refused: bool = False, encoded: bool = True) -> Exchange:
    record = SimpleNamespace(name="churn", collect=True, sampling_rate=1.0)
    scorer = SimpleNamespace(target=SimpleNamespace(name="churn", alias="champion"), current=None)
    started = time.perf_counter() - 0.002
    out = Exchange("churn", "azureml", f"r{n}", started, record, scorer, columns)  # type: ignore[arg-type]
    out.decoding = True
    if refused:
        out.error, out.status = ModelyardError("bad value"), 422
    if not refused or not encoded:
        version = SimpleNamespace(name="churn", version=3)
        predictions = np.array([[0.25, 0.75]] * len(columns["age"]), np.float32)
        out.scored = SimpleNamespace(
            predictions=predictions, version=version, classes=["no", "yes"]
        )  # type: ignore[assignment]
    return out


@pytest.mark.parametrize("frame", [False, True], ids=["numpy columns", "DataFrame"])
def test_scored_requests_arrive_as_one_group_with_their_values(frame: bool) -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=100, flush_s=30.0)
    hook = collection(collector)
    collector.start()
    try:
        for n in range(3):
            columns = {
                "age": np.array([30.5 + n, 40.0]),
                "plan": np.array(["gold", "silver"], dtype=object),
            }
            hook(exchange(n, pd.DataFrame(columns) if frame else columns))
        hook(exchange(9, {"age": np.array([1.0])}, refused=True))
        assert collector.flush(10)
    finally:
        collector.stop()
    groups = [i for i in sink.items if isinstance(i, wire.Group)]
    refused = [i for i in sink.items if isinstance(i, Observation)]
    assert len(groups) == 1 and len(refused) == 1
    group = groups[0]
    assert group.rows == [2, 2, 2] and group.fields["request_id"] == ["r0", "r1", "r2"]
    assert group.inputs == {
        "age": [30.5, 40.0, 31.5, 40.0, 32.5, 40.0],
        "plan": ["gold", "silver"] * 3,
    }
    assert group.fields["version"] == [3] * 3 and group.fields["alias"] == ["champion"] * 3
    assert all(1.5 < ms < 1000 for ms in group.fields["latency_ms"])
    rows = Batch.of_group(group).rows()
    assert len(rows) == 6 and collector.stats().written == 7
    assert (refused[0].request_id, refused[0].status, refused[0].inputs) == ("r9", 422, None)


def test_a_request_scored_then_refused_is_a_record_naming_its_error() -> None:
    sink = Kept()
    collector = Collector(sink, batch_rows=100, flush_s=30.0)
    collector.start()
    try:  # scored, then its answer could not be encoded (a V2 output it does not have, say)
        collection(collector)(exchange(4, {"age": np.array([1.0])}, refused=True, encoded=False))
        assert collector.flush(10)
    finally:
        collector.stop()
    (record,) = sink.items
    assert isinstance(record, Observation)
    assert (record.status, record.error_code, record.inputs) == (422, "modelyard_error", None)
