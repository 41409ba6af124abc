"""The clients people already have, unchanged but for the URL and the key, over real HTTP.

- seed 003's ``requests`` client of an Azure ML v1 (ACI) service, on ``/endpoints/E/score``;
- the Python (urllib) sample of Azure ML Studio (classic)'s API help page, on ``/execute``;
- ``requests`` as MLflow's docs call ``/invocations``;
- ``tritonclient.http`` in the modes ``test_v2.py`` leaves out (plain JSON tensors, auth by a
  plugin, compressed requests and answers, versions, metadata).

The churn model here has seed 003's ten columns, in its order, so that the seed's row
``[596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]`` is sent as the seed sends it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelyard import Workspace
from modelyard.config.serve import ServeOptions
from modelyard.training.demo_data import CHURN_CATEGORICAL, CHURN_NUMERIC
from modelyard.training.demo_data import churn as churn_data
from modelyard.types import OutputKind
from modelyard.web.app import create_app
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.server import running

SEED_COLUMNS = [
    "CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance", "NumOfProducts",
    "HasCrCard", "IsActiveMember", "EstimatedSalary",
]  # fmt: skip
SEED_ROW = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]


def fitted_bank() -> tuple[Pipeline, pd.DataFrame]:
    """Seed 003's preprocessing (one-hot + scaler) and a classifier, on its ten columns."""
    frame = churn_data(400, seed=3)
    target = frame.pop("Exited")
    encode = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="error"), list(CHURN_CATEGORICAL)),
            ("scale", StandardScaler(), list(CHURN_NUMERIC)),
        ]
    )
    pipe = Pipeline([("prep", encode), ("clf", LogisticRegression(max_iter=1000))])
    return pipe.fit(frame[SEED_COLUMNS], target), frame[SEED_COLUMNS]


@dataclass(frozen=True)
class Server:
    base: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("clients")
    ws = Workspace(make_settings(root, f"sqlite:///{root / 'r.db'}"))
    immo, immo_rows = fitted_immo()
    ws.models.register("immo", immo, input_example=immo_rows)
    ws.models.promote("immo", 1)
    bank, bank_rows = fitted_bank()
    ws.models.register("bank", bank, input_example=bank_rows, output_kind=OutputKind.PROBABILITIES)
    ws.models.promote("bank", 1)
    keys = {
        name: (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
        for name in ("immo", "bank")
    }
    try:
        with running(create_app(ws, limits=ServeOptions(), follow_interval=0.2)) as base:
            yield Server(base, keys)
    finally:
        ws.close()


def _seed_probabilities(*rows: list[Any]) -> np.ndarray[Any, Any]:
    est, _ = fitted_bank()
    return est.predict_proba(pd.DataFrame([list(r) for r in rows], columns=SEED_COLUMNS))


def _immo(*surfaces: float) -> list[float]:
    est, _ = fitted_immo()
    return [float(v) for v in est.predict(pd.DataFrame({"surface": list(surfaces)}))]


# --- Azure ML v1: seed 003's requests client ------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="json.loads(predictions.json()) needs the answer to be a JSON *string*: the seed's "
    "entry script returned json.dumps(...), which azmlinfsrv JSON-encoded again; a modelyard "
    "model endpoint answers {'predictions': ...}, so .json() is a dict already. The seed's "
    "client works unchanged against its entry script: tests/e2e/test_seed_003.py",
)
def test_seed_003_client_exactly_as_written(server: Server) -> None:
    endpoint = f"{server.base}/endpoints/bank/score"

    x_new = [SEED_ROW]

    input_json = json.dumps({"data": x_new})

    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + server.keys["bank"]}

    predictions = requests.post(endpoint, input_json, headers=headers)
    assert predictions.status_code == 200, predictions.text
    predicted_classes = json.loads(predictions.json())

    assert np.allclose(predicted_classes, _seed_probabilities(SEED_ROW))


def test_seed_003_client_with_its_last_line_reading_predictions(server: Server) -> None:
    endpoint = f"{server.base}/endpoints/bank/score"

    x_new = [SEED_ROW]

    input_json = json.dumps({"data": x_new})

    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + server.keys["bank"]}

    predictions = requests.post(endpoint, input_json, headers=headers)
    predicted_classes = predictions.json()["predictions"]

    assert predictions.status_code == 200, predictions.text
    assert predictions.headers["Content-Type"] == "application/json"
    assert predictions.headers["x-model-version"] == "1"
    assert predictions.headers["x-model-name"] == "bank"
    assert np.allclose(predicted_classes, _seed_probabilities(SEED_ROW))
    (row,) = predicted_classes
    assert len(row) == 2 and sum(row) == pytest.approx(1.0)
    assert predictions.json()["classes"] == [0, 1]


def test_seed_style_without_content_type_and_with_several_rows(server: Server) -> None:
    """``requests.post(url, str)`` sends no Content-Type; azmlinfsrv ignores it, so do we."""
    rows = [SEED_ROW, [700, "France", "Female", 61, 8, 0.0, 1, 1, 1, 150000.0]]
    answer = requests.post(
        f"{server.base}/endpoints/bank/score",
        json.dumps({"data": rows}),
        headers={"Authorization": "Bearer " + server.keys["bank"]},
    )
    assert "Content-Type" not in answer.request.headers
    assert answer.status_code == 200, answer.text
    assert np.allclose(answer.json()["predictions"], _seed_probabilities(*rows))


def test_seed_style_records_and_request_id(server: Server) -> None:
    record = dict(zip(SEED_COLUMNS, SEED_ROW, strict=True))
    answer = requests.post(
        f"{server.base}/endpoints/bank/score",
        json.dumps({"data": [record]}),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + server.keys["bank"],
            "x-request-id": "seed-003",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "seed-003"
    assert np.allclose(answer.json()["predictions"], _seed_probabilities(SEED_ROW))


@pytest.mark.parametrize(
    ("headers", "rows", "status", "code"),
    [
        ({"Authorization": "Bearer wrong"}, [SEED_ROW], 401, "unauthorized"),
        ({}, [SEED_ROW], 401, "unauthorized"),
        (None, [[596, "Germany", "Male", "old", 3, 96709.1, 2, 0, 0, 41788.4]], 422, "bad_value"),
        (None, [SEED_ROW[:9]], 422, "bad_row_length"),
        (None, [[596, "Italy", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]], 400, "model_error"),
    ],
)
def test_seed_style_errors_are_json_a_requests_user_can_read(
    server: Server, headers: dict[str, str] | None, rows: list[Any], status: int, code: str
) -> None:
    sent = {"Authorization": "Bearer " + server.keys["bank"]} if headers is None else headers
    answer = requests.post(
        f"{server.base}/endpoints/bank/score",
        json.dumps({"data": rows}),
        headers={"Content-Type": "application/json", **sent},
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["code"] == code and answer.json()["message"]
    with pytest.raises(requests.HTTPError):
        answer.raise_for_status()


def test_azureml_core_webservice_run_contract(server: Server) -> None:
    """What ``AciWebservice.run`` does: POST the data as a str with a Bearer key, return
    ``resp.json()`` on 200; the scoring and swagger URIs are siblings."""
    session = requests.Session()
    session.headers.update({"Authorization": "Bearer " + server.keys["bank"]})
    answer = session.post(
        f"{server.base}/endpoints/bank/score",
        data=json.dumps({"data": [SEED_ROW]}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert np.allclose(answer.json()["predictions"], _seed_probabilities(SEED_ROW))
    swagger = session.get(f"{server.base}/endpoints/bank/swagger.json").json()
    row = swagger["paths"]["/endpoints/bank/score"]["post"]["requestBody"]["content"]
    items = row["application/json"]["schema"]["properties"]["data"]["items"]
    assert list(items["properties"]) == SEED_COLUMNS
    assert items["properties"]["Geography"]["type"] == "string"


# --- Azure ML Studio (classic): the API help page's Python sample ---------------------------


def _help_page_call(url: str, api_key: str, data: dict[str, Any]) -> tuple[int, Any, Any]:
    """The help page's Python 3 sample, line for line, returning instead of printing."""
    body = str.encode(json.dumps(data))

    headers = {"Content-Type": "application/json", "Authorization": ("Bearer " + api_key)}

    req = urllib.request.Request(url, body, headers)

    try:
        response = urllib.request.urlopen(req)

        result = response.read()
        return response.status, response.info(), json.loads(result)
    except urllib.error.HTTPError as error:
        # the headers include the request id, useful for debugging the failure
        info = error.info()
        return error.code, info, json.loads(error.read().decode("utf8", "ignore"))


def _help_page_data(values: list[list[str]]) -> dict[str, Any]:
    return {
        "Inputs": {
            "input1": {
                "ColumnNames": SEED_COLUMNS,
                "Values": values,
            },
        },
        "GlobalParameters": {},
    }


def test_classic_help_page_client_scores_string_columns(server: Server) -> None:
    url = f"{server.base}/endpoints/bank/execute?api-version=2.0&details=true"
    values = [
        [str(v) for v in SEED_ROW],
        ["700", "France", "Female", "61", "8", "0", "1", "1", "1", "150000"],
    ]
    status, headers, result = _help_page_call(url, server.keys["bank"], _help_page_data(values))
    assert status == 200, result
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["x-request-id"] and headers["x-model-version"] == "1"
    table = result["Results"]["output1"]["value"]
    assert table["ColumnNames"] == [*SEED_COLUMNS, "Scored Labels", "Scored Probabilities"]
    assert table["ColumnTypes"][1:3] == ["String", "String"]
    assert len(table["ColumnTypes"]) == len(table["ColumnNames"])
    assert all(isinstance(cell, str) for row in table["Values"] for cell in row)
    assert [row[:10] for row in table["Values"]] == values
    expected = _seed_probabilities(
        SEED_ROW, [700, "France", "Female", 61, 8, 0.0, 1, 1, 1, 150000.0]
    )
    assert np.allclose([float(row[-1]) for row in table["Values"]], expected[:, 1])
    assert [row[-2] for row in table["Values"]] == [str(int(p > 0.5)) for p in expected[:, 1]]


def test_classic_help_page_client_without_details_on_a_numeric_model(server: Server) -> None:
    url = f"{server.base}/endpoints/immo/execute?api-version=2.0"
    data = {
        "Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [["25"], ["40"]]}},
        "GlobalParameters": {},
    }
    status, _, result = _help_page_call(url, server.keys["immo"], data)
    assert status == 200, result
    table = result["Results"]["output1"]["value"]
    assert "ColumnTypes" not in table
    assert [float(row[1]) for row in table["Values"]] == pytest.approx(_immo(25.0, 40.0))


def _strings(row: list[Any]) -> list[list[str]]:
    return [[str(v) for v in row]]


BAD_AGE = [596, "Germany", "Male", "old", 3, 96709.1, 2, 0, 0, 41788.4]
ITALY = [596, "Italy", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]


@pytest.mark.parametrize(
    ("key", "query", "values", "status", "kind", "detail"),
    [
        ("wrong", "api-version=2.0", None, 401, "Unauthorized", "ScoreRequestUnauthorized"),
        (None, "api-version=1.0", None, 400, "BadArgument", "BadVersionCall"),
        (None, "api-version=2.0", _strings(BAD_AGE), 400, "BadUserArgument", "InputParseError"),
        (
            None,
            "api-version=2.0",
            _strings(SEED_ROW[:9]),
            400,
            "BadUserArgument",
            "InputParseError",
        ),
        (
            None,
            "api-version=2.0",
            _strings(ITALY),
            400,
            "ModuleExecutionError",
            "ModuleExecutionError",
        ),
    ],
)
def test_classic_help_page_client_reads_errors_from_the_envelope(
    server: Server,
    key: str | None,
    query: str,
    values: list[list[str]] | None,
    status: int,
    kind: str,
    detail: str,
) -> None:
    url = f"{server.base}/endpoints/bank/execute?{query}"
    data = _help_page_data(values or _strings(SEED_ROW))
    code, headers, result = _help_page_call(url, key or server.keys["bank"], data)
    assert code == status, result
    assert headers["x-request-id"]
    assert result["error"]["code"] == kind and result["error"]["message"]
    (item,) = result["error"]["details"]
    assert item["code"] == detail and item["message"]


def test_classic_format_swagger_with_urllib(server: Server) -> None:
    url = f"{server.base}/endpoints/bank/execute?api-version=2.0&format=swagger"
    row = {name: str(value) for name, value in zip(SEED_COLUMNS, SEED_ROW, strict=True)}
    data = {"Inputs": {"input1": [row]}, "GlobalParameters": {}}
    status, _, result = _help_page_call(url, server.keys["bank"], data)
    assert status == 200, result
    (scored,) = result["Results"]["output1"]
    assert {k: scored[k] for k in SEED_COLUMNS} == row
    assert float(scored["Scored Probabilities"]) == pytest.approx(
        _seed_probabilities(SEED_ROW)[0, 1]
    )


# --- MLflow: requests as MLflow's docs call /invocations -----------------------------------


def test_requests_on_invocations_as_mlflows_docs_do(server: Server) -> None:
    frame = pd.DataFrame([SEED_ROW], columns=SEED_COLUMNS)
    url = f"{server.base}/endpoints/bank/invocations"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + server.keys["bank"]}
    split = requests.post(
        url, data=json.dumps({"dataframe_split": frame.to_dict(orient="split")}), headers=headers
    )
    records = requests.post(
        url, json={"dataframe_records": frame.to_dict(orient="records")}, headers=headers
    )
    csv = requests.post(
        url,
        data=frame.to_csv(index=False),
        headers={**headers, "Content-Type": "text/csv"},
    )
    for answer in (split, records, csv):
        assert answer.status_code == 200, answer.text
        assert np.allclose(answer.json()["predictions"], _seed_probabilities(SEED_ROW))
    wrong = requests.post(url, json={"data": [SEED_ROW]}, headers=headers)
    assert wrong.status_code == 400 and wrong.json()["error_code"] == "BAD_REQUEST"


# --- Open Inference Protocol: tritonclient modes test_v2.py does not cover -----------------


@pytest.fixture
def triton(server: Server) -> Iterator[Any]:
    http = pytest.importorskip("tritonclient.http")
    client = http.InferenceServerClient(url=server.base.removeprefix("http://"))
    try:
        yield client
    finally:
        client.close()


def test_tritonclient_plain_json_tensors_with_a_version(server: Server, triton: Any) -> None:
    http = pytest.importorskip("tritonclient.http")
    auth = {"Authorization": "Bearer " + server.keys["immo"]}
    x = http.InferInput("input-0", [2, 1], "FP64")
    x.set_data_from_numpy(np.array([[25.0], [40.0]]), binary_data=False)
    out = http.InferRequestedOutput("output-0", binary_data=False)
    result = triton.infer(
        "immo", [x], model_version="1", outputs=[out], request_id="j1", headers=auth
    )
    assert result.as_numpy("output-0") == pytest.approx(_immo(25.0, 40.0))
    response = result.get_response()
    assert response["id"] == "j1" and response["model_version"] == "1"
    assert triton.is_model_ready("immo", model_version="1", headers=auth)
    assert not triton.is_model_ready("immo", model_version="2", headers=auth)


def test_tritonclient_bytes_columns_in_plain_json(server: Server, triton: Any) -> None:
    http = pytest.importorskip("tritonclient.http")
    auth = {"Authorization": "Bearer " + server.keys["bank"]}
    metadata = triton.get_model_metadata("bank", headers=auth)
    assert metadata["parameters"] == {"content_type": "pd"}
    types = {i["name"]: i["datatype"] for i in metadata["inputs"]}
    assert [i["name"] for i in metadata["inputs"]] == SEED_COLUMNS
    inputs = []
    for name, value in zip(SEED_COLUMNS, SEED_ROW, strict=True):
        column = http.InferInput(name, [1], types[name])
        dtype = object if types[name] == "BYTES" else http.triton_to_np_dtype(types[name])
        column.set_data_from_numpy(np.array([value], dtype=dtype), binary_data=False)
        inputs.append(column)
    result = triton.infer(
        "bank",
        inputs,
        outputs=[http.InferRequestedOutput("output-0", binary_data=False)],
        headers=auth,
        parameters={"content_type": "pd"},
    )
    assert np.allclose(result.as_numpy("output-0"), _seed_probabilities(SEED_ROW))


def test_tritonclient_key_from_a_plugin_and_compressed_bodies(server: Server, triton: Any) -> None:
    http = pytest.importorskip("tritonclient.http")
    key = server.keys["immo"]

    class BearerKey(http.InferenceServerClientPlugin):  # type: ignore[misc]
        def __call__(self, request: Any) -> None:
            request.headers["Authorization"] = "Bearer " + key

    triton.register_plugin(BearerKey())
    try:
        assert triton.is_model_ready("immo")
        assert triton.get_model_metadata("immo")["versions"] == ["1"]
        for algorithm in ("gzip", "deflate"):
            x = http.InferInput("input-0", [1, 1], "FP64")
            x.set_data_from_numpy(np.array([[25.0]]))
            result = triton.infer(
                "immo",
                [x],
                request_compression_algorithm=algorithm,
                response_compression_algorithm=algorithm,
            )
            assert result.as_numpy("output-0") == pytest.approx(_immo(25.0))
    finally:
        triton.unregister_plugin()


def test_tritonclient_errors_carry_the_servers_message(server: Server, triton: Any) -> None:
    http = pytest.importorskip("tritonclient.http")
    utils = pytest.importorskip("tritonclient.utils")
    x = http.InferInput("input-0", [1, 1], "FP64")
    x.set_data_from_numpy(np.array([[25.0]]))
    with pytest.raises(utils.InferenceServerException) as wrong_key:
        triton.infer("immo", [x], headers={"Authorization": "Bearer wrong"})
    assert wrong_key.value.status() == "401" and wrong_key.value.message()
    with pytest.raises(utils.InferenceServerException) as unknown:
        triton.get_model_metadata("nope", headers={"Authorization": "Bearer wrong"})
    assert unknown.value.status() == "404"
    with pytest.raises(
        utils.InferenceServerException, match=re.escape("has no version '9' (versions: 1)")
    ):
        triton.infer(
            "immo",
            [x],
            model_version="9",
            headers={"Authorization": "Bearer " + server.keys["immo"]},
        )
    assert triton.get_server_metadata()["name"] == "modelyard"
