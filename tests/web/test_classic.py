"""Azure ML Studio (classic) Request-Response over real HTTP: the table and swagger formats,
string values, ColumnTypes with details=true, and classic's error envelope."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings

from tests.helpers.endpoints import (
    Served,
    churn_frame,
    fitted_churn,
    immo_predictions,
    json_documents,
    serving_immo_and_churn,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("classic")) as served:
        yield served


def _execute(
    served: Served, body: Any, endpoint: str = "immo", query: str = "api-version=2.0"
) -> httpx.Response:
    return httpx.post(
        f"{served.base}/endpoints/{endpoint}/execute?{query}",
        json=body,
        headers=served.auth(endpoint),
    )


def _table(names: list[str], values: list[list[Any]], **extra: Any) -> dict[str, Any]:
    return {"Inputs": {"input1": {"ColumnNames": names, "Values": values}}, **extra}


def test_the_help_page_urllib_client_gets_the_table_with_column_types(served: Served) -> None:
    data = _table(["surface"], [["25"], ["40"]], GlobalParameters={})
    request = urllib.request.Request(
        f"{served.base}/endpoints/immo/execute?api-version=2.0&details=true",
        json.dumps(data).encode("utf-8"),
        {"Content-Type": "application/json", **served.auth("immo")},
    )
    with urllib.request.urlopen(request) as response:
        headers = response.headers
        result = json.loads(response.read())
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["x-model-version"] == "1" and headers["x-request-id"]
    output = result["Results"]["output1"]
    assert output["type"] == "table"
    table = output["value"]
    assert table["ColumnNames"] == ["surface", "Scored Labels"]
    assert table["ColumnTypes"] == ["Double", "Double"]
    assert all(isinstance(cell, str) for row in table["Values"] for cell in row)
    assert [row[0] for row in table["Values"]] == ["25", "40"]
    assert [float(row[1]) for row in table["Values"]] == pytest.approx(immo_predictions(25.0, 40.0))
    assert {"ExecutionDurationMs", "ContainerAllocationDurationMs", "IsWarmContainer"} <= set(
        result
    )


def test_without_details_column_types_are_left_out_and_numbers_are_accepted(
    served: Served,
) -> None:
    answer = _execute(served, _table(["surface"], [[25], [40.5]]))
    assert answer.status_code == 200, answer.text
    table = answer.json()["Results"]["output1"]["value"]
    assert "ColumnTypes" not in table
    assert [row[0] for row in table["Values"]] == ["25", "40.5"]


def test_swagger_format_answers_rows_as_objects_of_strings(served: Served) -> None:
    body = {"Inputs": {"input1": [{"surface": "25"}, {"surface": "40"}]}, "GlobalParameters": {}}
    answer = _execute(served, body, query="api-version=2.0&format=swagger")
    assert answer.status_code == 200, answer.text
    rows = answer.json()["Results"]["output1"]
    assert [row["surface"] for row in rows] == ["25", "40"]
    assert [float(row["Scored Labels"]) for row in rows] == pytest.approx(
        immo_predictions(25.0, 40.0)
    )
    assert set(answer.json()) == {"Results"}


def test_string_columns_score_with_labels_and_probabilities(served: Served) -> None:
    frame, _ = churn_frame(rows=3, seed=2)
    values = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    answer = _execute(
        served,
        _table(list(frame.columns), values),
        endpoint="churn",
        query="api-version=2.0&details=true",
    )
    assert answer.status_code == 200, answer.text
    table = answer.json()["Results"]["output1"]["value"]
    assert table["ColumnNames"][-2:] == ["Scored Labels", "Scored Probabilities"]
    assert table["ColumnTypes"] == [
        "Int64",
        "String",
        "String",
        "Int64",
        "Double",
        "Int64",
        "Double",
    ]
    est, _ = fitted_churn()
    assert [row[-2] for row in table["Values"]] == [str(v) for v in est.predict(frame)]
    assert np.allclose([float(row[-1]) for row in table["Values"]], est.predict_proba(frame)[:, 1])


@pytest.mark.parametrize(
    ("query", "body", "status", "kind", "detail"),
    [
        ("api-version=1.0", _table(["surface"], [["25"]]), 400, "BadArgument", "BadVersionCall"),
        ("", _table(["surface"], [["25"]]), 400, "BadArgument", "BadVersionCall"),
        (
            "api-version=2.0&format=xml",
            _table(["surface"], [["25"]]),
            400,
            "BadArgument",
            "InvalidQueryParameter",
        ),
        (None, {"GlobalParameters": {}}, 400, "BadArgument", "MissingRequestInput"),
        (
            None,
            {"Inputs": {"input1": [], "input2": []}},
            400,
            "BadArgument",
            "InvalidInputNames",
        ),
        (
            None,
            _table(["surface"], [["25"]], GlobalParameters={"Query": "select 1"}),
            400,
            "BadArgument",
            "UnexpectedParameter",
        ),
        (None, _table(["surface"], [["big"]]), 400, "BadUserArgument", "InputParseError"),
        (None, _table(["area"], [["25"]]), 400, "BadUserArgument", "InputParseError"),
        (None, _table(["surface"], [["25", "1"]]), 400, "BadUserArgument", "InputParseError"),
        (None, [1, 2], 400, "BadArgument", "RequestBodyInvalid"),
    ],
)
def test_errors_use_classics_envelope_with_a_detail_code(
    served: Served, query: str | None, body: Any, status: int, kind: str, detail: str
) -> None:
    answer = _execute(served, body, query="api-version=2.0" if query is None else query)
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["error"]["code"] == kind and payload["error"]["message"]
    (item,) = payload["error"]["details"]
    assert item["code"] == detail and item["message"]
    assert payload["code"] and payload["message"]  # modelyard's own keys ride along


def test_a_bad_value_says_parsing_failed_and_names_the_column(served: Served) -> None:
    payload = _execute(served, _table(["surface"], [["25"], ["big"]])).json()
    (item,) = payload["error"]["details"]
    assert item["message"].startswith("Parsing of input vector failed.")
    assert item["target"] == "surface" and payload["row"] == 1


def test_wrong_key_unknown_endpoint_and_wrong_content_type(served: Served) -> None:
    url = f"{served.base}/endpoints/immo/execute?api-version=2.0"
    body = _table(["surface"], [["25"]])
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["details"][0]["code"] == "ScoreRequestUnauthorized"
    missing = httpx.post(
        f"{served.base}/endpoints/nope/execute?api-version=2.0", json=body, headers={}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    text = httpx.post(
        url, content=b"surface\n25\n", headers={**served.auth("immo"), "Content-Type": "text/csv"}
    )
    assert text.status_code == 415 and text.json()["error"]["code"] == "BadArgument"


def test_a_model_that_raises_is_a_module_execution_error(served: Served) -> None:
    frame, _ = churn_frame(rows=1)
    frame["Geography"] = "Italy"
    values = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    answer = _execute(served, _table(list(frame.columns), values), endpoint="churn")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ModuleExecutionError"


@settings(max_examples=60, deadline=None)
@given(body=json_documents())
def test_arbitrary_json_never_gets_a_500(served: Served, body: Any) -> None:
    for path in (
        "/endpoints/immo/execute?api-version=2.0",
        "/endpoints/churn/execute?api-version=2.0&format=swagger",
    ):
        endpoint = path.split("/")[3 if path.startswith("/v2") else 2]
        answer = httpx.post(f"{served.base}{path}", json=body, headers=served.auth(endpoint))
        assert answer.status_code < 500, answer.text
