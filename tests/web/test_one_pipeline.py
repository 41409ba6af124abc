"""One pipeline behind every route: the same good and bad bodies give byte-identical
answers (status, body, headers) from the protocol's scoring lane, the plain-ASGI fast
route and the FastAPI routes, for each wire format; MLflow's shapes have one decoder; a
bug in a model runs it once; an unknown endpoint or a wrong key costs no database query
and no model load."""

from __future__ import annotations

import asyncio
import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from sqlalchemy import event

from modelyard.web.app import create_mlflow_app
from tests.helpers import gated
from tests.helpers.endpoints import Served, serving_immo_and_churn
from tests.helpers.server import running

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
V1 = [
    (JSON, b'{"data": [[25.0]]}'),
    (JSON, b'{"data": [{"surface": 25.0}, {"surface": 40.5}]}'),
    (JSON, b'{"dataframe_split": {"columns": ["surface"], "data": [[25.0]]}}'),
    (JSON, b'{"inputs": {"surface": [25.0, 30.0]}}'),
    (JSON, b'{"data": [["big"]]}'),
    (JSON, b'{"data": []}'),
    (JSON, b'{"dataframe_split": {"columns": ["surface"], "data": [[25.0, 1.0]]}}'),
    (JSON, b""),
    (JSON, b"{not json"),
    (JSON, b"[1, 2]"),
    (CSV, b"surface\n25\n40.5\n"),
    (CSV, b"area\n25\n"),
    ({"Content-Type": "text/plain"}, b"25"),
]
MLFLOW = [
    (JSON, b'{"dataframe_split": {"columns": ["surface"], "data": [[25.0]]}}'),
    (JSON, b'{"dataframe_records": [{"surface": 25.0}]}'),
    (JSON, b'{"instances": [[25.0], [30.0]]}'),
    (JSON, b'{"inputs": {"surface": [25.0]}}'),
    (JSON, b'{"dataframe_split": {"columns": ["surface"], "data": [[25.0, 1.0]]}}'),
    (JSON, b'{"data": [[25.0]]}'),
    (JSON, b"{not json"),
    (CSV, b"surface\n25\n"),
    ({"Content-Type": "application/json; format=pandas-split"}, b"{}"),
]
CLASSIC = [
    (JSON, b'{"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [["25"]]}}}'),
    (JSON, b'{"Inputs": {"input1": [{"surface": "25"}]}, "GlobalParameters": {}}'),
    (JSON, b'{"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [["x"]]}}}'),
    (JSON, b'{"Inputs": {}}'),
]
V2 = [
    ({}, b'{"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 1], "data": [25]}]}'),
    ({}, b'{"id": "7", "inputs": [{"name": "surface", "datatype": "FP64", "shape": [2], '
     b'"data": [25, 30]}]}'),
    ({}, b'{"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 2], '
     b'"data": [25, 1]}]}'),
    ({}, b'{"inputs": []}'),
]  # fmt: skip
ROUTES = [
    ("/endpoints/{e}/score", V1),
    ("/endpoints/{e}/invocations", MLFLOW),
    ("/endpoints/{e}/execute?api-version=2.0", CLASSIC),
    ("/endpoints/{e}/execute?api-version=2.0&format=swagger", CLASSIC),
    ("/v2/models/{e}/infer", V2),
    ("/v2/models/{e}/versions/1/infer", V2),
    ("/v2/models/{e}/versions/9/infer", V2[:1]),
]
CASES = [
    (path, i, headers, body) for path, bodies in ROUTES for i, (headers, body) in enumerate(bodies)
]
VARIABLE = {"x-request-id", "date", "server"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("pipeline")
    with serving_immo_and_churn(root, framework=True) as served:
        frame = pd.DataFrame({"surface": [10.0, 20.0, 30.0]})
        (root / "boom.pkl").write_bytes(pickle.dumps(gated.Exploding()))
        served.ws.models.register("boom", root / "boom.pkl", allow_pickle=True, input_example=frame)
        served.ws.models.promote("boom", 1)
        created = served.ws.endpoints.create("boom", model="boom@champion")
        served.keys["boom"] = (created.keys or {})["primary"]
        served.wait_served("boom")
        yield served


def _comparable(answer: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers, less what differs by nature (request id, date; classic's
    ExecutionDurationMs, and so its length)."""
    body = re.sub(rb'"ExecutionDurationMs":\d+', b'"ExecutionDurationMs":0', answer.content)
    variable = VARIABLE | (
        {"content-length"} if b'"ExecutionDurationMs"' in answer.content else set()
    )
    headers = [(k, v) for k, v in answer.headers.multi_items() if k not in variable]
    return answer.status_code, body, headers


@pytest.mark.parametrize(("path", "i", "headers", "body"), CASES)
def test_lane_fast_and_framework_routes_answer_byte_for_byte_alike(
    served: Served, path: str, i: int, headers: dict[str, str], body: bytes
) -> None:
    url = path.format(e="immo")
    sent = {**headers, **served.auth("immo")}
    bases = (served.base, served.asgi, served.framework)  # lane, fast route, framework
    lane, *others = [httpx.post(b + url, content=body, headers=sent, timeout=30) for b in bases]
    for other in others:
        assert _comparable(lane) == _comparable(other)
    assert all(answer.headers["x-request-id"] for answer in (lane, *others))
    wrong = {**headers, "Authorization": "Bearer nope"}
    denied = [httpx.post(b + url, content=body, headers=wrong) for b in bases]
    assert denied[0].status_code == 401
    assert _comparable(denied[0]) == _comparable(denied[1]) == _comparable(denied[2])


def test_root_invocations_answer_as_the_endpoint_route(served: Served) -> None:
    app = create_mlflow_app(served.ws, "immo", require_keys=True, follow_interval=0.2)
    with running(app) as root:
        for headers, body in MLFLOW:
            sent = {**headers, **served.auth("immo")}
            at_root = httpx.post(f"{root}/invocations", content=body, headers=sent)
            routed = httpx.post(
                f"{served.base}/endpoints/immo/invocations", content=body, headers=sent
            )
            assert _comparable(at_root) == _comparable(routed)


def test_mlflow_shapes_have_one_decoder_on_score_and_invocations(served: Served) -> None:
    for _, body in MLFLOW[:5]:
        answers = [
            httpx.post(
                f"{served.base}/endpoints/immo/{route}",
                content=body,
                headers={**JSON, **served.auth("immo")},
            )
            for route in ("score", "invocations")
        ]
        score, invocations = (orjson.loads(a.content) for a in answers)
        if answers[0].status_code == 200:
            assert score["predictions"] == invocations["predictions"]
        else:  # the extra value in a dataframe_split row is refused by both
            assert score["code"] == invocations["code"] == "bad_row_length"
            assert answers[1].status_code == 400 and answers[0].status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/endpoints/boom/score", {"data": [[gated.MARK]]}),
        ("/endpoints/boom/invocations", {"inputs": {"surface": [gated.MARK]}}),
        ("/endpoints/boom/execute?api-version=2.0",
         {"Inputs": {"input1": [{"surface": str(gated.MARK)}]}}),
        ("/v2/models/boom/infer",
         {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 1],
                      "data": [gated.MARK]}]}),
    ],
)  # fmt: skip
def test_a_model_raising_a_bug_runs_exactly_once(served: Served, path: str, body: Any) -> None:
    for base in (served.base, served.asgi, served.framework):
        before = gated.COUNTS["explosions"]
        answer = httpx.post(base + path, json=body, headers=served.auth("boom"), timeout=30)
        assert answer.status_code == 500, answer.text
        assert answer.json()["code"] == "internal" or "internal error" in answer.text
        assert answer.headers["x-request-id"] in answer.text
        time.sleep(0.2)  # a replay would have run by now
        assert gated.COUNTS["explosions"] == before + 1
        fine = httpx.post(base + "/endpoints/boom/score", json={"data": [[2.0]]},
                          headers=served.auth("boom"))  # fmt: skip
        assert fine.status_code == 200 and fine.json()["predictions"] == [4.0]


UNKNOWN = [
    "/endpoints/nope/score",
    "/endpoints/nope/invocations",
    "/endpoints/nope/execute?api-version=2.0",
    "/v2/models/nope/infer",
]


class _RequestPathQueries:
    """Counts SQL statements run on an event loop (the request path), not by the
    follow and polling threads."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.count += 1


def test_an_unknown_endpoint_costs_no_query_and_no_load(served: Served) -> None:
    counter = _RequestPathQueries()
    event.listen(served.ws.db.engine, "before_cursor_execute", counter)
    loads = gated.COUNTS["loads"]
    try:
        for base in (served.base, served.asgi, served.framework):
            for path in UNKNOWN:
                for auth in ({}, served.auth("immo")):
                    answer = httpx.post(base + path, json={"data": [[1.0]]}, headers=auth)
                    assert answer.status_code == 404, answer.text
        assert counter.count == 0
        assert gated.COUNTS["loads"] == loads
    finally:
        event.remove(served.ws.db.engine, "before_cursor_execute", counter)


def test_a_wrong_key_on_a_loading_endpoint_is_401_without_loading_it(
    served: Served, tmp_path: Path
) -> None:
    gated.GATE.set()  # registering may read the file
    (tmp_path / "slow.pkl").write_bytes(pickle.dumps(gated.Gated()))
    frame = pd.DataFrame({"surface": [10.0, 20.0]})
    served.ws.models.register("slow", tmp_path / "slow.pkl", allow_pickle=True, input_example=frame)
    served.ws.models.promote("slow", 1)
    gated.GATE.clear()
    try:
        loads = gated.COUNTS["loads"]
        created = served.ws.endpoints.create("slow", model="slow@champion")
        auth = {"Authorization": f"Bearer {(created.keys or {})['primary']}"}
        url = f"{served.base}/endpoints/slow/score"
        deadline = time.monotonic() + 30
        while httpx.post(url, json={"data": [[1.0]]}).status_code == 404:  # not known yet
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while gated.COUNTS["loads"] == loads:  # the follow thread is loading it now
            assert time.monotonic() < deadline
            time.sleep(0.05)
        loading = gated.COUNTS["loads"]
        for headers in ({}, {"Authorization": "Bearer nope"}):
            answer = httpx.post(url, json={"data": [[1.0]]}, headers=headers)
            assert answer.status_code == 401, answer.text
        waiting = httpx.post(url, json={"data": [[1.0]]}, headers=auth)
        assert waiting.status_code == 503 and waiting.json()["code"] == "model_unavailable"
        assert waiting.headers["retry-after"] == "1"
        assert gated.COUNTS["loads"] == loading  # no request loaded it
    finally:
        gated.GATE.set()
    deadline = time.monotonic() + 30
    while (answer := httpx.post(url, json={"data": [[3.0]]}, headers=auth)).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)
    assert answer.json()["predictions"] == [6.0]
