"""The scoring server over real HTTP: formats, keys, errors, headers, following promotions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelyard import Workspace
from modelyard.config.serve import ServeOptions
from modelyard.web.app import create_app
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.server import running


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Workspace, str, dict[str, str]]]:
    ws = Workspace(
        make_settings(
            tmp_path, f"sqlite:///{tmp_path / 'r.db'}", security={"admin_key": "admin-secret"}
        )
    )
    est, frame = fitted_immo()
    ws.models.register("immo", est, input_example=frame)
    ws.models.promote("immo", 1)
    endpoint = ws.endpoints.create("immo", model="immo@champion")
    app = create_app(ws, limits=ServeOptions(max_body_bytes=4096), follow_interval=0.2)
    with running(app) as base:
        yield ws, base, dict(endpoint.keys or {})
    ws.close()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_azure_v1_rows_and_records_score_with_version_and_request_id(served: Any) -> None:
    _, base, keys = served
    url = f"{base}/endpoints/immo/score"
    by_rows = httpx.post(url, json={"data": [[25.0], [100.0]]}, headers=_auth(keys["primary"]))
    assert by_rows.status_code == 200, by_rows.text
    est, _ = fitted_immo()
    expected = [float(v) for v in est.predict(pd.DataFrame({"surface": [25.0, 100.0]}))]
    assert by_rows.json()["predictions"] == pytest.approx(expected)
    assert by_rows.headers["x-model-version"] == "1"
    assert len(by_rows.headers["x-request-id"]) == 32
    by_records = httpx.post(
        url,
        json={"data": [{"surface": 25}]},
        headers={**_auth(keys["secondary"]), "x-request-id": "abc"},
    )
    assert by_records.json()["predictions"] == pytest.approx(expected[:1])
    assert by_records.headers["x-request-id"] == "abc"


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["surface"], "data": [[25.0]], "index": [0]}},
        {"dataframe_records": [{"surface": 25.0}]},
        {"instances": [{"surface": 25.0}]},
        {"inputs": {"surface": [25.0]}},
    ],
)
def test_mlflow_shapes_work_on_score(served: Any, body: dict[str, Any]) -> None:
    _, base, keys = served
    answer = httpx.post(f"{base}/endpoints/immo/score", json=body, headers=_auth(keys["primary"]))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 1


def test_csv_body(served: Any) -> None:
    _, base, keys = served
    answer = httpx.post(
        f"{base}/endpoints/immo/score",
        content=b"surface\n25\n40\n",
        headers={**_auth(keys["primary"]), "content-type": "text/csv"},
    )
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2


def test_missing_or_wrong_key_gets_401_json(served: Any) -> None:
    _, base, _ = served
    url = f"{base}/endpoints/immo/score"
    for headers in ({}, _auth("wrong"), {"Authorization": "Basic abc"}):
        answer = httpx.post(url, json={"data": [[25.0]]}, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized" and answer.json()["message"]
        assert "x-model-version" not in answer.headers


def test_admin_key_may_score(served: Any) -> None:
    _, base, _ = served
    answer = httpx.post(
        f"{base}/endpoints/immo/score", json={"data": [[1.0]]}, headers=_auth("admin-secret")
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code", "where"),
    [
        ({"data": [[25.0], ["big"]]}, 422, "bad_value", {"row": 1, "column": "surface"}),
        ({"data": [{"area": 25}]}, 422, "missing_column", {"column": "surface"}),
        ({"data": [[1.0, 2.0]]}, 422, "bad_row_length", {"row": 0}),
        ({"data": []}, 400, "empty_input", {}),
        ({"rows": [[1.0]]}, 400, "bad_shape", {}),
        ([[1.0]], 400, "bad_shape", {}),
    ],
)
def test_bad_input_names_row_and_column_never_500(
    served: Any, body: Any, status: int, code: str, where: dict[str, Any]
) -> None:
    _, base, keys = served
    answer = httpx.post(f"{base}/endpoints/immo/score", json=body, headers=_auth(keys["primary"]))
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert payload["code"] == code and payload["message"]
    for key, value in where.items():
        assert payload[key] == value


def test_bad_json_wrong_type_and_oversized_bodies(served: Any) -> None:
    _, base, keys = served
    url = f"{base}/endpoints/immo/score"
    bad = httpx.post(
        url,
        content=b"{nope",
        headers={**_auth(keys["primary"]), "content-type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_json"
    pickled = httpx.post(
        url,
        content=b"\x80\x04.",
        headers={**_auth(keys["primary"]), "content-type": "application/octet-stream"},
    )
    assert pickled.status_code == 415 and pickled.json()["code"] == "unsupported_media_type"
    big = httpx.post(url, json={"data": [[1.0]] * 2000}, headers=_auth(keys["primary"]))
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"


def test_unknown_endpoint_is_404_json(served: Any) -> None:
    _, base, keys = served
    answer = httpx.post(
        f"{base}/endpoints/nope/score", json={"data": [[1.0]]}, headers=_auth(keys["primary"])
    )
    assert answer.status_code == 404 and answer.json()["code"] == "endpoint_not_found"


def test_swagger_and_health(served: Any) -> None:
    _, base, keys = served
    swagger = httpx.get(f"{base}/endpoints/immo/swagger.json").json()
    schema = swagger["paths"]["/endpoints/immo/score"]["post"]["requestBody"]["content"]
    assert schema["application/json"]["schema"]["properties"]["data"]["items"]["properties"] == {
        "surface": {"type": "number"}
    }
    health = httpx.get(f"{base}/endpoints/immo/", headers=_auth(keys["primary"]))
    assert health.status_code == 200 and health.json()["version"] == 1
    assert httpx.get(f"{base}/v2/health/ready").json() == {"ready": True}


def test_a_promotion_reaches_the_endpoint_and_a_broken_version_is_never_swapped_in(
    served: Any,
) -> None:
    ws, base, keys = served
    est, frame = fitted_immo(seed=1)
    ws.models.register("immo", est, input_example=frame)
    ws.models.promote("immo", 2)
    url = f"{base}/endpoints/immo/score"
    deadline = time.monotonic() + 5
    while (
        httpx.post(url, json={"data": [[1.0]]}, headers=_auth(keys["primary"])).headers[
            "x-model-version"
        ]
        != "2"
    ):
        assert time.monotonic() < deadline, "the promotion did not reach the endpoint in 5 s"
        time.sleep(0.1)
    broken = ws.models.register("immo", est, input_example=frame)
    blob = Path(ws.store.blob_path(broken.sha256))
    blob.chmod(0o644)
    blob.write_bytes(b"corrupted")
    ws.models.promote("immo", 3)
    time.sleep(1.0)
    answer = httpx.post(url, json={"data": [[1.0]]}, headers=_auth(keys["primary"]))
    assert answer.status_code == 200 and answer.headers["x-model-version"] == "2"
    failures = [e for e in ws.models.history("immo") if e.kind.value == "load_failed"]
    assert failures and failures[0].to_version == 3
    assert "HashMismatch" in failures[0].reason


def test_a_model_that_refuses_valid_rows_gets_400_not_500(tmp_path: Path) -> None:
    frame = pd.DataFrame({"city": ["Paris", "Lyon", "Paris", "Lyon"]})
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(frame, [1, 0, 1, 0])
    ws = Workspace(make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}"))
    ws.models.register("city", model, input_example=frame)
    ws.models.promote("city", 1)
    ws.endpoints.create("city", model="city")
    with running(create_app(ws, require_keys=False)) as base:
        answer = httpx.post(f"{base}/endpoints/city/score", json={"data": [["Nice"]]})
    assert answer.status_code == 400
    assert answer.json()["code"] == "model_error" and "Nice" in answer.json()["message"]
    ws.close()
