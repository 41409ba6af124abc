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

from modelyard.monitoring import blocks, wire
from modelyard.monitoring.batch import Batch
from modelyard.monitoring.observation import Observation
from modelyard.monitoring.writing import payload

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


def scored(n: int, *, plan: str = "gold", age: float = 30.0) -> Observation:
    return Observation(
        "churn",
        f"r{n}",
        AT,
        "model",
        200,
        1.0 + n,
        "churn",
        2,
        "champion",
        {
            "age": np.array([age, np.nan][: 1 + n % 2]),
            "plan": np.array([plan] * (1 + n % 2), dtype=object),
        },
        np.array([[0.25, 0.75], [0.5, 0.5]][: 1 + n % 2], dtype=np.float32),
        [0, 1],
        None,
        "",
    )


def as_scored(o: Observation) -> bytes:
    """``o`` as the data plane's collection hook writes a scored request."""
    assert isinstance(o.inputs, dict) and o.outputs is not None
    fields = (o.request_id, o.scored_at.timestamp(), o.latency_ms, o.status, o.model,
              o.version, o.alias)  # fmt: skip
    values = [np.asarray(v).tolist() for v in o.inputs.values()]
    return wire.scored(o.endpoint, list(o.inputs), o.classes, fields, values, o.outputs.tolist())


def test_scored_requests_of_one_kind_become_one_group_that_writes_what_records_write() -> None:
    alike = [scored(n, plan=p, age=30.0 + n) for n, p in enumerate(["gold", "silver", "gold"])]
    renamed = Observation(
        "churn", "r9", AT, inputs={"x": np.array([1.0])}, outputs=np.array([1]), model="churn"
    )
    data = wire.batch(
        [wire.scored_item([as_scored(alike[0]), as_scored(renamed), *map(as_scored, alike[1:])])]
    )
    items = wire.decode_batch(data)
    assert [type(i).__name__ for i in items] == ["Group", "Group"]
    group = items[0]
    assert isinstance(group, wire.Group) and group.rows == [1, 2, 1]
    assert group.fields["scored_at"] == [AT] * 3 and group.fields["request_id"] == [
        "r0",
        "r1",
        "r2",
    ]
    # the rows and the block a group writes are those its observations write as records
    sent, back = Batch(alike), Batch.of_group(group)
    assert (
        back.rows() == Batch(wire.decode_batch(wire.batch([wire.encode(o) for o in alike]))).rows()
    )
    assert [r[2] for r in back.rows()] == ["r0", "r1", "r1", "r2"]
    assert blocks.decode([blocks.encode(back).data]).equals(
        blocks.decode([blocks.encode(sent).data])
    )
    (written,) = [r for r in payload(items) if r[1] and r[1][0][2] == "r0"]
    assert len(written[1]) == 4 and written[2].rows == 4


@given(st.lists(st.lists(values, min_size=1, max_size=4), min_size=1, max_size=3))
def test_a_scored_request_writes_the_rows_its_record_writes(columns: list[list[Any]]) -> None:
    rows = min(len(c) for c in columns)
    inputs = {f"c{i}": np.array(c[:rows], dtype=object) for i, c in enumerate(columns)}
    sent = Observation("e", "r", AT, inputs=inputs, outputs=np.arange(rows, dtype=float))
    (group,) = wire.decode_batch(wire.batch([wire.scored_item([as_scored(sent)])]))
    assert isinstance(group, wire.Group)
    assert Batch.of_group(group).rows() == Batch([trip(sent)]).rows()


def test_a_request_whose_columns_are_not_one_per_row_travels_as_a_record() -> None:
    short = scored(1)  # two rows of predictions
    short.inputs = {"age": np.array([30.0]), "plan": np.array(["gold", "gold"], dtype=object)}
    items = wire.decode_batch(
        wire.batch([wire.scored_item([as_scored(scored(0)), as_scored(short)])])
    )
    assert [type(i).__name__ for i in items] == ["Group", "Observation"]
    odd = items[1]
    assert isinstance(odd, Observation) and odd.request_id == "r1" and odd.scored_at == AT
    assert odd.inputs == {"age": [30.0], "plan": ["gold", "gold"]}
    assert len(payload(items)) == 2  # each written: the record as the record path writes it


def test_groups_of_the_same_columns_are_written_as_one_block() -> None:
    first = [scored(n) for n in range(3)]
    second = [scored(n) for n in range(3, 6)]
    other = [scored(n) for n in range(6, 8)]
    for o in other:
        o.classes = ["no", "yes"]  # other classes: another block
    chunks = [wire.scored_item([as_scored(o) for o in chunk]) for chunk in (first, second, other)]
    written = payload(wire.decode_batch(wire.batch(chunks)))
    assert [len(rows) for _, rows, _ in written] == [9, 3]
    assert [block.rows for _, _, block in written] == [9, 3]
    assert [r[2] for r in written[0][1]] == ["r0", "r1", "r1", "r2", "r3", "r3", "r4", "r5", "r5"]


def test_classes_that_are_lists_or_tuples_still_group() -> None:
    odd = [scored(0), scored(2)]
    for o in odd:
        o.classes = [["a"], ["b"]]  # what a custom model may name
    tupled = [scored(4), scored(6)]
    for o in tupled:
        o.classes = [(0, "a"), (1, "b")]  # read back as lists
    chunks = [
        wire.scored_item([as_scored(o) for o in chunk]) for chunk in (odd[:1], odd[1:], tupled)
    ]
    items = wire.decode_batch(wire.batch(chunks))
    merged = wire.merged([i for i in items if isinstance(i, wire.Group)])
    assert [(g.rows, g.classes) for g in merged] == [
        ([1, 1], [["a"], ["b"]]),
        ([1, 1], [[0, "a"], [1, "b"]]),
    ]


def test_a_scored_requests_fields_come_back_under_their_names() -> None:
    fields = {"request_id": "r7", "scored_at": AT.timestamp(), "latency_ms": 2.5,
              "status": 201, "model": "m", "version": 4, "alias": "canary"}  # fmt: skip
    assert tuple(fields) == wire.SCORED_FIELDS
    data = wire.scored("e", ["x"], None, tuple(fields.values()), [[1.0]], [0.5])
    short = wire.scored("e", ["x"], None, tuple(fields.values()), [[1.0, 2.0]], [0.5])
    group, odd = wire.decode_batch(wire.batch([wire.scored_item([data, short])]))
    assert isinstance(group, wire.Group) and isinstance(odd, Observation)
    for name, value in {**fields, "scored_at": AT}.items():
        assert group.fields[name] == [value] and getattr(odd, name) == value
