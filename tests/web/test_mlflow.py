"""MLflow's scoring protocol over real HTTP: /endpoints/E/invocations, ping, health, version,
and the root-mounted app that MLflow's own ScoringServerClient can call."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from modelyard.web.app import create_mlflow_app
from tests.cli.test_cli import cli
from tests.helpers.endpoints import (
    Served,
    churn_frame,
    fitted_churn,
    immo_predictions,
    json_documents,
    serving_immo_and_churn,
)
from tests.helpers.server import running
from tests.helpers.venvs import Unavailable, cached_venv

PROTOCOL_CHANGE = "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("mlflow")) as served:
        yield served


def _invoke(served: Served, body: Any, endpoint: str = "immo", **headers: str) -> httpx.Response:
    return httpx.post(
        f"{served.base}/endpoints/{endpoint}/invocations",
        json=body,
        headers={**served.auth(endpoint), **headers},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["surface"], "data": [[25.0], [40.0]]}},
        {"dataframe_split": {"index": [7, 8], "columns": ["surface"], "data": [[25], [40]]}},
        {"dataframe_records": [{"surface": 25.0}, {"surface": 40.0}]},
        {"instances": [{"surface": 25.0}, {"surface": 40.0}]},
        {"instances": [[25.0], [40.0]]},
        {"inputs": {"surface": [25.0, 40.0]}},
        {"inputs": [25.0, 40.0]},
        {"inputs": {"surface": [25.0, 40.0]}, "params": {"threshold": 0.5}},
    ],
)
def test_every_mlflow_json_shape_scores_with_version_and_request_id(
    served: Served, body: dict[str, Any]
) -> None:
    answer = _invoke(served, body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"predictions": pytest.approx(immo_predictions(25.0, 40.0))}
    assert answer.headers["x-model-version"] == "1" and answer.headers["x-request-id"]


def test_csv_and_parquet_bodies_score(served: Served) -> None:
    url = f"{served.base}/endpoints/immo/invocations"
    csv = httpx.post(
        url,
        content=b"surface\n25\n40\n",
        headers={**served.auth("immo"), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert csv.status_code == 200, csv.text
    assert csv.json()["predictions"] == pytest.approx(immo_predictions(25.0, 40.0))
    buffer = io.BytesIO()
    pd.DataFrame({"surface": [25.0, 40.0]}).to_parquet(buffer)
    parquet = httpx.post(
        url,
        content=buffer.getvalue(),
        headers={**served.auth("immo"), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert parquet.status_code == 200, parquet.text
    assert parquet.json()["predictions"] == pytest.approx(immo_predictions(25.0, 40.0))


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json; charset=latin-1", "The scoring server only supports UTF-8"),
        ("application/json; format=pandas-split", "Unrecognized content type parameters: format."),
        ("text/plain", "This predictor only supports the following content types: Types: "),
        (None, "This predictor only supports the following content types: Types: "),
    ],
)
def test_content_type_rules_answer_415_in_mlflows_words(
    served: Served, content_type: str | None, message: str
) -> None:
    headers = served.auth("immo")
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = httpx.post(
        f"{served.base}/endpoints/immo/invocations",
        content=b'{"inputs": {"surface": [25]}}',
        headers=headers,
    )
    assert answer.status_code == 415, answer.text
    body = answer.json()
    assert body["error_code"] == "BAD_REQUEST" and body["code"] == "unsupported_media_type"
    assert body["message"].startswith(message)
    if "format" in (content_type or ""):
        assert PROTOCOL_CHANGE in body["message"]


@pytest.mark.parametrize(
    ("body", "error_code", "code", "start"),
    [
        ({"data": [[25.0]]}, "BAD_REQUEST", "bad_shape", "The input must be a JSON dictionary"),
        ([[25.0]], "BAD_REQUEST", "bad_shape", "Invalid input. The input must be a JSON"),
        (
            {"inputs": [[25.0]], "instances": [[25.0]]},
            "BAD_REQUEST",
            "bad_shape",
            "The input must be a JSON dictionary",
        ),
        ({"inputs": {"surface": ["big"]}}, "BAD_REQUEST", "bad_value", "row 0, column surface"),
        ({"dataframe_records": [{"area": 1}]}, "INVALID_PARAMETER_VALUE", "missing_column", ""),
        (
            {"dataframe_split": {"index": [0], "columns": ["surface"], "data": [[1], [2]]}},
            "BAD_REQUEST",
            "bad_shape",
            "Invalid input. dataframe_split has 2 rows but its index has 1",
        ),
        ({"inputs": [1.0], "params": [1]}, "BAD_REQUEST", "bad_shape", "Invalid input. params"),
        (
            {"dataframe_split": {"columns": [["surface"]], "data": [[1]]}},
            "BAD_REQUEST",
            "bad_shape",
            "Invalid input. dataframe_split.columns must be a list of column names",
        ),
        ({"dataframe_records": []}, "BAD_REQUEST", "empty_input", "no rows"),
    ],
)
def test_bad_requests_get_400_in_mlflows_error_shape(
    served: Served, body: Any, error_code: str, code: str, start: str
) -> None:
    answer = _invoke(served, body)
    assert answer.status_code == 400, answer.text
    payload = answer.json()
    assert payload["error_code"] == error_code and payload["code"] == code
    assert payload["message"].startswith(start)


def test_unknown_keys_are_ignored_and_messages_read_like_mlflows(served: Served) -> None:
    assert _invoke(served, {"data": [[1.0]], "inputs": [[1.0]]}).status_code == 200
    two = _invoke(served, {"instances": [[1.0]], "inputs": [[1.0]]}).json()["message"]
    assert "Received dictionary with input fields: ['instances', 'inputs']." in two
    wrong = _invoke(served, {"data": [[1.0]]}).json()["message"]
    assert "Received dictionary with input fields: []." in wrong and PROTOCOL_CHANGE in wrong
    bad = httpx.post(
        f"{served.base}/endpoints/immo/invocations",
        content=b"{nope",
        headers={**served.auth("immo"), "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.json()["message"].startswith(
        "Invalid input. Ensure that input is a valid JSON formatted string."
    )


def test_wrong_key_is_401_and_unknown_endpoint_404_in_mlflows_shape(served: Served) -> None:
    url = f"{served.base}/endpoints/immo/invocations"
    for headers in ({}, {"Authorization": "Bearer wrong"}, served.auth("churn")):
        answer = httpx.post(url, json={"inputs": [1.0]}, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error_code"] == "UNAUTHENTICATED"
        assert answer.json()["code"] == "unauthorized"
    missing = httpx.post(
        f"{served.base}/endpoints/nope/invocations", json={"inputs": [1.0]}, headers={}
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_ping_health_and_version_answer_like_mlflow(served: Served) -> None:
    for route in ("ping", "health"):
        answer = httpx.get(f"{served.base}/endpoints/immo/{route}", headers=served.auth("immo"))
        assert answer.status_code == 200 and answer.text == "\n"
        assert answer.headers["x-model-version"] == "1" and answer.headers["x-request-id"]
    version = httpx.get(f"{served.base}/endpoints/immo/version", headers=served.auth("immo"))
    assert version.status_code == 200 and version.text[0].isdigit()
    assert httpx.get(f"{served.base}/endpoints/immo/ping").status_code == 401


def test_string_columns_score_with_dataframe_split(served: Served) -> None:
    frame, _ = churn_frame(rows=3, seed=5)
    body = {"dataframe_split": frame.to_dict(orient="split")}
    answer = _invoke(served, body, endpoint="churn")
    assert answer.status_code == 200, answer.text
    est, _ = fitted_churn()
    expected = est.predict_proba(frame)
    assert np.allclose(answer.json()["predictions"], expected) and expected.shape == (3, 2)


def test_a_model_that_raises_gets_400_not_500(served: Served) -> None:
    frame, _ = churn_frame(rows=1)
    frame["Geography"] = "Italy"  # never seen in training: the OneHotEncoder raises
    answer = _invoke(served, {"dataframe_records": frame.to_dict(orient="records")}, "churn")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "BAD_REQUEST"
    assert answer.json()["code"] == "model_error" and "Italy" in answer.json()["message"]


def test_root_mounted_app_serves_mlflows_own_client_routes(served: Served) -> None:
    app = create_mlflow_app(served.ws, "immo", require_keys=False, follow_interval=0.2)
    with running(app) as base:
        assert httpx.get(f"{base}/ping").text == "\n"
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/version").status_code == 200
        # what ScoringServerClient.invoke(DataFrame) sends: dataframe_split with its index
        frame = pd.DataFrame({"surface": [25.0, 40.0]})
        body = {"dataframe_split": frame.to_dict(orient="split")}
        answer = httpx.post(f"{base}/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == pytest.approx(immo_predictions(25.0, 40.0))
        assert answer.headers["x-model-version"] == "1"
        assert httpx.post(f"{base}/endpoints/immo/score", json={"data": [[1]]}).status_code == 404


def test_root_mounted_app_with_keys_asks_for_the_endpoints_key(served: Served) -> None:
    app = create_mlflow_app(served.ws, "immo", require_keys=True, follow_interval=0.2)
    with running(app) as base:
        assert httpx.post(f"{base}/invocations", json={"inputs": [1.0]}).status_code == 401
        keyed = httpx.post(
            f"{base}/invocations", json={"inputs": [1.0]}, headers=served.auth("immo")
        )
        assert keyed.status_code == 200


def test_mlflow_compat_flag_needs_exactly_one_endpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _ = cli(capsys, "init", str(tmp_path))
    assert code == 0
    code, _, err = cli(capsys, "--workspace", str(tmp_path), "serve", "--mlflow-compat")
    assert code == 1 and "--mlflow-compat serves one endpoint" in err


MLFLOW_CLIENT = """
import json, sys
import pandas as pd
from mlflow.pyfunc.scoring_server.client import ScoringServerClient

client = ScoringServerClient(sys.argv[1], int(sys.argv[2]))
client.wait_server_ready(timeout=30)
answer = client.invoke(pd.DataFrame({"surface": [25.0, 40.0]}), params={"a": 1})
try:
    client.invoke(pd.DataFrame({"area": [1.0]}))
    error = None
except Exception as exc:
    error = str(exc)
print(json.dumps({"predictions": dict(answer)["predictions"], "error": error}))
"""


@pytest.fixture(scope="module")
def mlflow_python() -> Path:
    """MLflow's own client lives in a venv of its own (mlflow is no modelyard dependency)."""
    try:
        return cached_venv("mlflow-skinny", ["mlflow-skinny==3.17.2", "pandas", "scipy"])
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MLflow's client could not be installed: {exc}")
        pytest.skip(f"MLflow's client could not be installed: {exc}")


def test_mlflows_own_scoring_server_client_works_unchanged(
    served: Served, mlflow_python: Path
) -> None:
    app = create_mlflow_app(served.ws, "immo", require_keys=False, follow_interval=0.2)
    with running(app) as base:
        host, port = base.removeprefix("http://").split(":")
        done = subprocess.run(
            [str(mlflow_python), "-c", MLFLOW_CLIENT, host, port],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["predictions"] == pytest.approx(immo_predictions(25.0, 40.0))
    assert "error code 400" in answer["error"]


@settings(max_examples=60, deadline=None)
@given(body=json_documents())
def test_arbitrary_json_never_gets_a_500(served: Served, body: Any) -> None:
    for path in ("/endpoints/immo/invocations", "/endpoints/churn/invocations"):
        endpoint = path.split("/")[3 if path.startswith("/v2") else 2]
        answer = httpx.post(f"{served.base}{path}", json=body, headers=served.auth(endpoint))
        assert answer.status_code < 500, answer.text
