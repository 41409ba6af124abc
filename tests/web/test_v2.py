"""Open Inference Protocol (KServe V2) over real HTTP: metadata, readiness, tensor and
dataframe inference, Triton's binary tensor extension, errors as {"error": ...}."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    with serving_immo_and_churn(tmp_path_factory.mktemp("v2")) as served:
        yield served


def _binary(header: dict[str, Any], *tensors: bytes) -> tuple[bytes, dict[str, str]]:
    """The body and headers tritonclient sends: JSON header, raw tensors, no Content-Type."""
    text = json.dumps(header, separators=(",", ":")).encode()
    return text + b"".join(tensors), {"Inference-Header-Content-Length": str(len(text))}


def _byte_tensor(values: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def _churn_inputs(frame: pd.DataFrame) -> list[dict[str, Any]]:
    inputs = []
    for name in frame.columns:
        column = frame[name]
        datatype = "BYTES" if pd.api.types.is_string_dtype(column) else "FP64"
        data = column.tolist() if datatype == "BYTES" else column.astype(float).tolist()
        inputs.append({"name": name, "shape": [len(frame)], "datatype": datatype, "data": data})
    return inputs


def test_server_metadata_names_the_binary_extension(served: Served) -> None:
    answer = httpx.get(f"{served.base}/v2")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "modelyard" and "binary_tensor_data" in body["extensions"]


def test_model_metadata_publishes_tensor_inputs_for_numeric_models(served: Served) -> None:
    for path in ("/v2/models/immo", "/v2/models/immo/versions/1"):
        answer = httpx.get(f"{served.base}{path}", headers=served.auth("immo"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["versions"] == ["1"] and body["platform"] == "sklearn"
        assert body["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 1]}]
        assert body["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1]}]
        assert answer.headers["x-model-version"] == "1"


def test_model_metadata_publishes_one_input_per_column_for_string_columns(served: Served) -> None:
    body = httpx.get(f"{served.base}/v2/models/churn", headers=served.auth("churn")).json()
    assert body["parameters"] == {"content_type": "pd"}
    types = {i["name"]: i["datatype"] for i in body["inputs"]}
    assert types == {
        "CreditScore": "INT64",
        "Geography": "BYTES",
        "Gender": "BYTES",
        "Age": "INT64",
        "Balance": "FP64",
    }
    assert body["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1, 2]}]


def test_model_ready_needs_the_key_and_a_served_version(served: Served) -> None:
    url = f"{served.base}/v2/models/immo"
    ready = httpx.get(f"{url}/ready", headers=served.auth("immo"))
    assert ready.status_code == 200 and ready.json() == {"name": "immo", "ready": True}
    assert httpx.get(f"{url}/versions/1/ready", headers=served.auth("immo")).status_code == 200
    no_key = httpx.get(f"{url}/ready")
    assert no_key.status_code == 401 and no_key.json()["error"]
    other = httpx.get(f"{url}/versions/7/ready", headers=served.auth("immo"))
    assert other.status_code == 404 and "serves version 1 only" in other.json()["error"]
    unknown = httpx.get(f"{served.base}/v2/models/nope/ready", headers=served.auth("immo"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "endpoint_not_found"


@pytest.mark.parametrize("data", [[25.0, 40.0], [[25.0], [40.0]]])
def test_tensor_mode_json_infer_echoes_id_flat_or_nested(served: Served, data: Any) -> None:
    body = {
        "id": "req-1",
        "inputs": [{"name": "input-0", "shape": [2, 1], "datatype": "FP64", "data": data}],
        "outputs": [{"name": "output-0", "parameters": {"binary_data": False}}],
    }
    answer = httpx.post(
        f"{served.base}/v2/models/immo/infer", json=body, headers=served.auth("immo")
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["id"] == "req-1" and result["model_name"] == "immo"
    assert result["model_version"] == "1"
    (output,) = result["outputs"]
    assert output["name"] == "output-0" and output["datatype"] == "FP64"
    assert output["shape"] == [2] and output["data"] == pytest.approx(immo_predictions(25.0, 40.0))
    assert answer.headers["x-model-version"] == "1" and answer.headers["x-request-id"]


def test_binary_tensor_extension_as_tritonclient_sends_it(served: Served) -> None:
    tensor = np.array([[25.0], [40.0]], dtype="<f8").tobytes()
    header = {
        "id": "req-1",
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 1],
                "datatype": "FP64",
                "parameters": {"binary_data_size": len(tensor)},
            }
        ],
        "parameters": {"binary_data_output": True},
    }
    body, headers = _binary(header, tensor)
    answer = httpx.post(
        f"{served.base}/v2/models/immo/versions/1/infer",
        content=body,
        headers={**headers, **served.auth("immo")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "req-1"
    assert answer.json()["outputs"][0]["data"] == pytest.approx(immo_predictions(25.0, 40.0))


def test_dataframe_mode_scores_string_columns_in_json(served: Served) -> None:
    frame, _ = churn_frame(rows=3, seed=4)
    body = {"parameters": {"content_type": "pd"}, "inputs": _churn_inputs(frame)}
    answer = httpx.post(
        f"{served.base}/v2/models/churn/infer", json=body, headers=served.auth("churn")
    )
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    est, _ = fitted_churn()
    assert output["shape"] == [3, 2]
    assert np.allclose(np.reshape(output["data"], (3, 2)), est.predict_proba(frame))


def test_dataframe_mode_scores_binary_bytes_and_numbers(served: Served) -> None:
    frame, _ = churn_frame(rows=2, seed=9)
    inputs, chunks = [], []
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]):
            raw, datatype = _byte_tensor(frame[name].tolist()), "BYTES"
        else:
            raw, datatype = frame[name].to_numpy(dtype="<f8").tobytes(), "FP64"
        inputs.append(
            {
                "name": name,
                "shape": [2, 1],
                "datatype": datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        chunks.append(raw)
    body, headers = _binary({"inputs": inputs}, *chunks)  # named after columns: pd mode
    answer = httpx.post(
        f"{served.base}/v2/models/churn/infer",
        content=body,
        headers={**headers, **served.auth("churn")},
    )
    assert answer.status_code == 200, answer.text
    est, _ = fitted_churn()
    data = np.reshape(answer.json()["outputs"][0]["data"], (2, 2))
    assert np.allclose(data, est.predict_proba(frame))


def test_a_gzip_request_body_is_accepted(served: Served) -> None:
    body = {"inputs": [{"name": "input-0", "shape": [1, 1], "datatype": "FP64", "data": [25]}]}
    answer = httpx.post(
        f"{served.base}/v2/models/immo/infer",
        content=gzip.compress(json.dumps(body).encode()),
        headers={**served.auth("immo"), "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == pytest.approx(immo_predictions(25.0))


def _tensor(shape: list[int], data: Any, datatype: str = "FP64") -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": datatype, "data": data}]}


@pytest.mark.parametrize(
    ("endpoint", "body", "status", "code", "words"),
    [
        ("immo", _tensor([2, 1], [25.0]), 400, "bad_tensor", "has 1 elements"),
        ("immo", _tensor([1, 2], [25.0, 1.0]), 400, "bad_tensor", "the model takes [N, 1]"),
        ("immo", _tensor([1, 1], ["x"]), 400, "bad_tensor", "is FP64 but element 0"),
        ("immo", _tensor([1, 1], [1], "FP99"), 400, "bad_tensor", "datatype 'FP99'"),
        ("immo", _tensor([1, 1], [None]), 400, "bad_value", "expected a number"),
        ("immo", {"inputs": []}, 400, "bad_shape", "non-empty list"),
        ("immo", [1, 2], 400, "bad_shape", "JSON object"),
        (
            "immo",
            {**_tensor([1, 1], [1.0]), "outputs": [{"name": "y"}]},
            400,
            "unknown_output",
            "unknown output 'y'",
        ),
        ("churn", _tensor([1, 5], [1, 2, 3, 4, 5]), 400, "bad_shape", "content_type"),
        (
            "churn",
            {"parameters": {"content_type": "pd"}, "inputs": [_tensor([1], [1])["inputs"][0]]},
            400,
            "unknown_input",
            "unknown input 'input-0'",
        ),
    ],
)
def test_bad_requests_are_4xx_with_an_error_key_never_500(
    served: Served, endpoint: str, body: Any, status: int, code: str, words: str
) -> None:
    answer = httpx.post(
        f"{served.base}/v2/models/{endpoint}/infer", json=body, headers=served.auth(endpoint)
    )
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert words in payload["error"] and payload["code"] == code


@pytest.mark.parametrize(
    ("header_length", "tail", "words"),
    [
        ("9999", b"", "Inference-Header-Content-Length is '9999'"),
        ("abc", b"", "Inference-Header-Content-Length is 'abc'"),
        (None, b"\x00" * 8, "not valid JSON"),
        ("", b"\x00" * 4, "binary_data_size 8 runs past"),
        ("", b"\x00" * 16, "8 bytes after the tensors"),
    ],
)
def test_malformed_binary_requests_are_400(
    served: Served, header_length: str | None, tail: bytes, words: str
) -> None:
    header = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 1],
                "datatype": "FP64",
                "parameters": {"binary_data_size": 8},
            }
        ]
    }
    body, headers = _binary(header, tail)
    if header_length is None:
        headers = {}
    elif header_length:
        headers["Inference-Header-Content-Length"] = header_length
    answer = httpx.post(
        f"{served.base}/v2/models/immo/infer",
        content=body,
        headers={**headers, **served.auth("immo")},
    )
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]


def test_a_version_the_model_does_not_have_is_404(served: Served) -> None:
    answer = httpx.post(
        f"{served.base}/v2/models/immo/versions/2/infer",
        json=_tensor([1, 1], [25.0]),
        headers=served.auth("immo"),
    )
    assert answer.status_code == 404
    assert "has no version '2' (versions: 1)" in answer.json()["error"]


def test_a_model_that_raises_is_400(served: Served) -> None:
    frame, _ = churn_frame(rows=1)
    frame["Gender"] = "Other"
    body = {"parameters": {"content_type": "pd"}, "inputs": _churn_inputs(frame)}
    answer = httpx.post(
        f"{served.base}/v2/models/churn/infer", json=body, headers=served.auth("churn")
    )
    assert answer.status_code == 400 and answer.json()["code"] == "model_error"


def test_the_real_tritonclient_scores_with_its_defaults(served: Served) -> None:
    http = pytest.importorskip("tritonclient.http")
    utils = pytest.importorskip("tritonclient.utils")
    client = http.InferenceServerClient(url=served.base.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("immo", headers=served.auth("immo"))
        assert not client.is_model_ready("immo")  # no key
        metadata = client.get_model_metadata("immo", headers=served.auth("immo"))
        assert metadata["inputs"][0]["shape"] == [-1, 1]
        x = np.array([[25.0], [40.0]])
        tensor = http.InferInput("input-0", list(x.shape), "FP64")
        tensor.set_data_from_numpy(x)  # binary_data=True: the binary tensor extension
        result = client.infer("immo", [tensor], request_id="r1", headers=served.auth("immo"))
        assert result.as_numpy("output-0") == pytest.approx(immo_predictions(25.0, 40.0))
        assert result.get_response()["id"] == "r1"
        frame, _ = churn_frame(rows=2, seed=3)
        columns = []
        for name in frame.columns:
            datatype = "BYTES" if pd.api.types.is_string_dtype(frame[name]) else "FP64"
            values = frame[name].to_numpy(dtype=object if datatype == "BYTES" else "f8")
            column = http.InferInput(name, [len(frame)], datatype)
            column.set_data_from_numpy(values)
            columns.append(column)
        churn = client.infer("churn", columns, headers=served.auth("churn"))
        est, _ = fitted_churn()
        assert np.allclose(churn.as_numpy("output-0"), est.predict_proba(frame))
        wrong = http.InferInput("input-0", [1, 3], "FP64")
        wrong.set_data_from_numpy(np.ones((1, 3)))
        with pytest.raises(utils.InferenceServerException, match=r"the model takes \[N, 1\]"):
            client.infer("immo", [wrong], headers=served.auth("immo"))
    finally:
        client.close()


def test_other_v2_routes_answer_404_with_an_error_key(served: Served) -> None:
    for method, path in (("GET", "/v2/models/immo/config"), ("POST", "/v2/repository/index")):
        answer = httpx.request(method, f"{served.base}{path}", headers=served.auth("immo"))
        assert answer.status_code == 404 and "no route" in answer.json()["error"]
    assert httpx.get(f"{served.base}/v2/health/live").json() == {"live": True}


@settings(max_examples=60, deadline=None)
@given(body=json_documents())
def test_arbitrary_json_never_gets_a_500(served: Served, body: Any) -> None:
    for path in ("/v2/models/immo/infer", "/v2/models/churn/infer"):
        endpoint = path.split("/")[3 if path.startswith("/v2") else 2]
        answer = httpx.post(f"{served.base}{path}", json=body, headers=served.auth(endpoint))
        assert answer.status_code < 500, answer.text


@settings(max_examples=60, deadline=None)
@given(
    header=json_documents(),
    tail=st.binary(max_size=64),
    size=st.integers(0, 80),
    datatype=st.sampled_from(["FP64", "BYTES", "BOOL", "INT8", "BF16"]),
)
def test_arbitrary_binary_requests_never_get_a_500(
    served: Served, header: Any, tail: bytes, size: int, datatype: str
) -> None:
    spec = {"name": "input-0", "shape": [1, 1], "datatype": datatype}
    spec["parameters"] = {"binary_data_size": size}
    for document in (header, {"inputs": [spec]}):
        body, headers = _binary(document, tail)
        answer = httpx.post(
            f"{served.base}/v2/models/immo/infer",
            content=body,
            headers={**headers, **served.auth("immo")},
        )
        assert answer.status_code < 500, answer.text
