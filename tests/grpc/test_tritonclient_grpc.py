"""``tritonclient.grpc`` against a real ``modelyard serve --grpc-port`` process: health,
metadata, inference in tensor and dataframe modes with the same numbers as HTTP V2, keys,
errors as gRPC codes with the HTTP messages, tensors in ``contents`` as well as raw."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import tritonclient.grpc as triton
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from modelyard.serving.protocols.oip import open_inference_grpc_pb2 as oip
from modelyard.serving.protocols.oip import open_inference_grpc_pb2_grpc as oip_grpc
from tests.helpers.endpoints import churn_frame, fitted_churn, immo_predictions
from tests.helpers.grpc_server import GrpcServed, serving_over_grpc


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServed]:
    with serving_over_grpc(tmp_path_factory.mktemp("grpc")) as served:
        yield served


@pytest.fixture(scope="module")
def client(served: GrpcServed) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(served.address)
    yield client
    client.close()


def _tensor(name: str, values: np.ndarray[Any, Any], datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values)
    return tensor


def _columns(frame: pd.DataFrame) -> list[triton.InferInput]:
    """One input per column: strings as BYTES, integers INT64, floats FP64."""
    inputs = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_string_dtype(column):
            inputs.append(_tensor(name, column.to_numpy(dtype=object), "BYTES"))
        elif pd.api.types.is_integer_dtype(column):
            inputs.append(_tensor(name, column.to_numpy(dtype="int64"), "INT64"))
        else:
            inputs.append(_tensor(name, column.to_numpy(dtype="float64"), "FP64"))
    return inputs


def _http_v2(served: GrpcServed, name: str, inputs: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{served.base}/v2/models/{name}/infer",
        json={"inputs": inputs, "parameters": {"content_type": "pd"}}
        if len(inputs) > 1
        else {"inputs": inputs},
        headers=served.auth(name),
    )


def _failure(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_server_is_live_and_ready_and_models_ready(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata().name == "modelyard"
    assert client.is_model_ready("immo", headers=served.auth("immo"))
    assert client.is_model_ready("immo", "1", headers=served.auth("immo"))
    assert client.is_model_ready("immo", "champion", headers=served.auth("immo"))


def test_model_metadata_is_the_http_metadata(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    for name in ("immo", "churn"):
        over_grpc = client.get_model_metadata(name, headers=served.auth(name), as_json=True)
        over_http = httpx.get(f"{served.base}/v2/models/{name}", headers=served.auth(name)).json()
        assert over_grpc["name"] == name and over_grpc["versions"] == over_http["versions"]
        assert over_grpc["platform"] == over_http["platform"] == "sklearn"
        for side in ("inputs", "outputs"):
            assert [
                {**t, "shape": [int(n) for n in t["shape"]]} for t in over_grpc[side]
            ] == over_http[side]
    # the KServe proto's properties (Triton's has no such field): read with modelyard's stub
    with grpc.insecure_channel(served.address) as channel:
        stub = oip_grpc.GRPCInferenceServiceStub(channel)
        churn = stub.ModelMetadata(
            oip.ModelMetadataRequest(name="churn"), metadata=tuple(served.auth("churn").items())
        )
    assert dict(churn.properties) == {"content_type": "pd"}


def test_immo_in_tensor_mode_gives_the_http_numbers(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    surfaces = np.array([[25.0], [60.5], [120.0]])
    result = client.infer(
        "immo", [_tensor("input-0", surfaces, "FP64")], headers=served.auth("immo")
    )
    got = result.as_numpy("output-0")
    http = _http_v2(
        served,
        "immo",
        [{"name": "input-0", "shape": [3, 1], "datatype": "FP64", "data": [25.0, 60.5, 120.0]}],
    ).json()
    assert got.dtype == np.float64 and got.tolist() == http["outputs"][0]["data"]
    assert got.tolist() == pytest.approx(immo_predictions(25.0, 60.5, 120.0), rel=1e-12)
    answer = result.get_response()
    assert answer.model_name == "immo" and answer.model_version == "1"


def test_immo_in_dataframe_mode_gives_the_same_numbers(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    result = client.infer(
        "immo",
        [_tensor("surface", np.array([25.0, 60.5]), "FP64")],
        headers=served.auth("immo"),
        parameters={"content_type": "pd"},
    )
    assert result.as_numpy("output-0").tolist() == pytest.approx(immo_predictions(25.0, 60.5))


def test_churn_in_dataframe_mode_gives_the_http_probabilities(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    frame, _ = churn_frame(5, seed=3)
    result = client.infer(
        "churn", _columns(frame), headers=served.auth("churn"), parameters={"content_type": "pd"}
    )
    got = result.as_numpy("output-0")
    inputs = [
        {
            "name": name,
            "shape": [len(frame)],
            "datatype": "BYTES" if pd.api.types.is_string_dtype(frame[name]) else "FP64",
            "data": frame[name].tolist(),
        }
        for name in frame.columns
    ]
    http = _http_v2(served, "churn", inputs)
    assert http.status_code == 200, http.text
    assert got.shape == (5, 2) and got.ravel().tolist() == http.json()["outputs"][0]["data"]
    model, _ = fitted_churn()
    np.testing.assert_allclose(got, model.predict_proba(frame), rtol=1e-12)


def test_tensors_in_contents_get_contents_back(served: GrpcServed) -> None:
    """Without raw_input_contents (what tritonclient always sends), each input's typed
    contents are read, and the answer comes in contents too."""
    frame, _ = churn_frame(2, seed=4)
    request = service_pb2.ModelInferRequest(model_name="churn", id="req-7")
    request.parameters["content_type"].string_param = "pd"
    for name in frame.columns:
        column = frame[name]
        tensor = request.inputs.add(name=name, shape=[len(frame)])
        if pd.api.types.is_string_dtype(column):
            tensor.datatype = "BYTES"
            tensor.contents.bytes_contents.extend(v.encode() for v in column)
        elif pd.api.types.is_integer_dtype(column):
            tensor.datatype = "INT64"
            tensor.contents.int64_contents.extend(int(v) for v in column)
        else:
            tensor.datatype = "FP64"
            tensor.contents.fp64_contents.extend(float(v) for v in column)
    with grpc.insecure_channel(served.address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        answer = stub.ModelInfer(request, metadata=tuple(served.auth("churn").items()))
    assert answer.id == "req-7" and not answer.raw_output_contents
    output = answer.outputs[0]
    assert output.name == "output-0" and output.datatype == "FP64" and list(output.shape) == [2, 2]
    model, _ = fitted_churn()
    np.testing.assert_allclose(
        np.array(output.contents.fp64_contents).reshape(2, 2), model.predict_proba(frame)
    )


def test_a_wrong_or_missing_key_is_unauthenticated(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    surfaces = [_tensor("input-0", np.array([[25.0]]), "FP64")]
    wrong = _failure(
        lambda: client.infer("immo", surfaces, headers={"authorization": "Bearer nope"})
    )
    assert wrong.status() == "StatusCode.UNAUTHENTICATED"
    assert "the key is not valid for endpoint immo" in wrong.message()
    missing = _failure(lambda: client.infer("immo", surfaces))
    assert missing.status() == "StatusCode.UNAUTHENTICATED"
    assert "Authorization: Bearer <key>" in missing.message()  # the HTTP message
    other = _failure(lambda: client.infer("immo", surfaces, headers=served.auth("churn")))
    assert other.status() == "StatusCode.UNAUTHENTICATED"
    admin = client.infer("immo", surfaces, headers={"authorization": "Bearer grpc-admin-secret"})
    assert admin.as_numpy("output-0").shape == (1,)


def test_a_bad_tensor_is_invalid_argument_with_the_http_message(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    two_wide = np.array([[25.0, 3.0]])
    bad = _failure(
        lambda: client.infer(
            "immo", [_tensor("input-0", two_wide, "FP64")], headers=served.auth("immo")
        )
    )
    http = _http_v2(
        served,
        "immo",
        [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [25.0, 3.0]}],
    )
    assert http.status_code == 400
    assert bad.status() == "StatusCode.INVALID_ARGUMENT"
    assert bad.message() == http.json()["error"]
    unknown = _failure(
        lambda: client.infer(
            "churn",
            [_tensor("Nope", np.array([1.0]), "FP64")],
            headers=served.auth("churn"),
            parameters={"content_type": "pd"},
        )
    )
    assert unknown.status() == "StatusCode.INVALID_ARGUMENT" and "'Nope'" in unknown.message()


def test_unknown_models_and_versions_are_not_found(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    surfaces = [_tensor("input-0", np.array([[25.0]]), "FP64")]
    missing = _failure(lambda: client.infer("nope", surfaces, headers=served.auth("immo")))
    assert missing.status() == "StatusCode.NOT_FOUND"
    version = _failure(
        lambda: client.infer("immo", surfaces, model_version="7", headers=served.auth("immo"))
    )
    assert version.status() == "StatusCode.NOT_FOUND" and "'7'" in version.message()
    by_alias = client.infer("immo", surfaces, model_version="champion", headers=served.auth("immo"))
    assert by_alias.get_response().model_version == "1"


def test_serve_grpc_port_is_refused_beside_mlflow_compat(tmp_path: Path) -> None:
    import subprocess
    import sys

    run = [sys.executable, "-m", "modelyard", "--workspace", str(tmp_path)]
    subprocess.run([*run, "init", str(tmp_path)], check=True, capture_output=True)
    refused = subprocess.run(
        [*run, "serve", "--grpc-port", "9001", "--mlflow-compat", "-e", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0 and "--grpc-port" in refused.stdout + refused.stderr


def test_grpc_calls_are_counted_in_the_replicas_metrics(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    def count(status: str) -> float:
        text = httpx.get(f"{served.base}/metrics").text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name == "modelyard_requests_total"
                    and labels.get("protocol") == "v2-grpc"
                    and labels.get("endpoint") == "immo"
                    and labels.get("status") == status
                ):
                    total += sample.value
        return total

    ok, refused = count("200"), count("401")
    surfaces = [_tensor("input-0", np.array([[25.0]]), "FP64")]
    for _ in range(3):
        client.infer("immo", surfaces, headers=served.auth("immo"))
    _failure(lambda: client.infer("immo", surfaces, headers={"authorization": "Bearer no"}))
    assert count("200") == ok + 3 and count("401") == refused + 1


def test_grpc_calls_are_collected_like_http_requests(
    served: GrpcServed, client: triton.InferenceServerClient
) -> None:
    """The data plane's after hooks run for gRPC calls: an endpoint that collects gets the
    scored rows, refusals (with their error code) too, under the call's request id."""
    auth = served.auth("collected")
    client.infer(
        "collected",
        [_tensor("input-0", np.array([[25.0], [40.0]]), "FP64")],
        headers={**auth, "x-request-id": "grpc-1"},
    )
    _failure(
        lambda: client.infer(
            "collected",
            [_tensor("input-0", np.array([[1.0, 2.0]]), "FP64")],
            headers={**auth, "x-request-id": "grpc-2"},
        )
    )
    engine = sa.create_engine(served.ws.settings.database_url.reveal())
    rows: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    "SELECT request_id, row_index, version, status, error_code FROM "
                    "collected_rows WHERE request_id LIKE 'grpc-%' ORDER BY request_id, row_index"
                ).all()
            if len(rows) >= 3:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("grpc-1", 0, 1, 200, None),
        ("grpc-1", 1, 1, 200, None),
        ("grpc-2", 0, 1, 400, "bad_tensor"),
    ]
