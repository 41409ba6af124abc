"""Observations survive the trip to the writer process: every kind of column the data
plane or an entry script hands the collector comes back with the same values and kinds
(numbers as numbers, missing numbers as NaN, text as objects)."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from modelyard.monitoring import wire
from modelyard.monitoring.observation import Observation

AT = datetime(2026, 12, 4, 18, 0, 0, 123456, tzinfo=UTC)


def trip(observation: Observation) -> Observation:
    stream = io.BytesIO()
    wire.write_frame(stream, wire.batch([wire.encode(observation)]))
    stream.seek(0)
    frame = wire.read_frame(stream)
    assert frame is not None and wire.read_frame(stream) is None
    (back,) = wire.decode_batch(frame)
    return back


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def assert_same_columns(sent: Observation, back: Observation) -> None:
    expected, got = sent.columns(), back.columns()
    assert list(expected) == list(got)
    for name, column in expected.items():
        assert got[name].dtype.kind == ("f" if column.dtype.kind == "f" else got[name].dtype.kind)
        assert all(same(a, b) for a, b in zip(column.tolist(), got[name].tolist(), strict=True))


def test_a_model_endpoints_observation_comes_back_whole() -> None:
    sent = Observation(
        "churn",
        "req-1",
        AT,
        "model",
        200,
        1.25,
        "churn",
        3,
        "challenger",
        {
            "age": np.array([30.5, np.nan]),
            "children": np.array([2, 0]),
            "plan": np.array(["gold", "silver"], dtype=object),
            "active": np.array([True, False]),
        },
        np.array([[0.25, 0.75], [0.5, 0.5]]),
        ["no", "yes"],
        None,
        "",
    )
    back = trip(sent)
    assert (back.endpoint, back.request_id, back.scored_at, back.source) == (
        "churn",
        "req-1",
        AT,
        "model",
    )
    assert (back.status, back.latency_ms, back.model, back.version, back.alias) == (
        200,
        1.25,
        "churn",
        3,
        "challenger",
    )
    assert back.classes == ["no", "yes"] and back.rows == 2
    assert back.columns()["in:plan"].dtype == object
    assert_same_columns(sent, back)


def test_float32_predictions_keep_their_float32_values() -> None:
    predictions = np.array([0.1, 0.7], dtype=np.float32)
    sent = Observation("e", "r", AT, inputs={"x": np.array([1.0, 2.0])}, outputs=predictions)
    back = trip(sent)
    assert np.array_equal(back.columns()["out:prediction"].astype(np.float32), predictions)


def test_refused_requests_scripts_rows_and_frames_come_back() -> None:
    refused = Observation("e", "r", AT, status=422, error_code="bad_value")
    back = trip(refused)
    assert (back.inputs, back.outputs, back.status, back.error_code) == (
        None,
        None,
        422,
        "bad_value",
    )
    script = Observation(
        "e",
        "c",
        AT,
        source="collector",
        designation="inputs",
        inputs=[{"a": 1, "b": "x"}, {"a": 2.5, "b": None}],
    )
    back = trip(script)
    assert back.inputs == [{"a": 1, "b": "x"}, {"a": 2.5, "b": None}]
    assert back.designation == "inputs" and back.source == "collector"
    frame = pd.DataFrame({"when": pd.to_datetime(["2026-01-01", "2026-01-02"]), "n": [1.0, 2.0]})
    back = trip(Observation("e", "f", AT, inputs=frame, outputs=np.array([1, 0])))
    assert back.inputs is not None
    assert list(back.inputs["n"]) == [1.0, 2.0]  # type: ignore[index]
    assert list(back.inputs["when"]) == ["2026-01-01T00:00:00", "2026-01-02T00:00:00"]  # type: ignore[index]


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=8),
    st.none(),
)


@given(st.lists(st.lists(values, min_size=1, max_size=4), min_size=1, max_size=3))
def test_any_json_values_come_back_as_the_same_values(columns: list[list[Any]]) -> None:
    rows = min(len(c) for c in columns)
    inputs = {f"c{i}": np.array(c[:rows], dtype=object) for i, c in enumerate(columns)}
    back = trip(Observation("e", "r", AT, inputs=inputs))
    columns = back.columns()
    for name, column in inputs.items():
        got = columns["in:" + name].tolist()
        want = [None if isinstance(v, float) and math.isnan(v) else v for v in column.tolist()]
        # JSON has no NaN: a missing number is null, read back as NaN in a numeric column
        got = [None if isinstance(v, float) and math.isnan(v) else v for v in got]
        assert got == want  # numbers equal as numbers (an int beside floats reads as float)
        assert [isinstance(v, str) for v in got] == [isinstance(v, str) for v in want]
