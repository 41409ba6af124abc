"""``modelyard serve --grpc-port`` with TLS from ``[serve]`` on both listeners, and hot
swaps under gRPC load: promotions while calls run, no call fails, every answer's
``model_version`` is the version whose numbers it carries."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from tests.helpers.grpc_server import CONSTANTS, serving_over_grpc

CALLERS = 4


def _x(value: float) -> triton.InferInput:
    tensor = triton.InferInput("input-0", [1, 1], "FP64")
    tensor.set_data_from_numpy(np.array([[value]]))
    return tensor


def test_both_listeners_serve_tls_from_the_settings(tmp_path: Path) -> None:
    with serving_over_grpc(tmp_path, tls=True) as served:
        assert served.cert is not None
        trusted = ssl.create_default_context(cafile=str(served.cert))
        answer = httpx.get(f"{served.base}/v2/health/ready", verify=trusted)
        assert served.base.startswith("https://") and answer.status_code == 200
        client = triton.InferenceServerClient(
            served.address, ssl=True, root_certificates=str(served.cert)
        )
        try:
            assert client.is_server_ready()
            result = client.infer("immo", [_x(25.0)], headers=served.auth("immo"))
            assert result.as_numpy("output-0").shape == (1,)
        finally:
            client.close()
        plaintext = triton.InferenceServerClient(served.address)
        try:
            with pytest.raises(InferenceServerException):
                plaintext.is_server_live(client_timeout=5)
        finally:
            plaintext.close()


@pytest.mark.slow
def test_hot_swaps_under_grpc_load_fail_no_call(tmp_path: Path) -> None:
    with serving_over_grpc(tmp_path) as served:
        stop = threading.Event()
        answers: list[tuple[str, float]] = []
        failures: list[str] = []

        def call() -> None:
            client = triton.InferenceServerClient(served.address)
            try:
                while not stop.is_set():
                    try:
                        result = client.infer("k", [_x(1.0)], headers=served.auth("k"))
                    except InferenceServerException as error:
                        failures.append(f"{error.status()}: {error.message()}")
                        continue
                    value = float(result.as_numpy("output-0")[0])
                    answers.append((result.get_response().model_version, value))
            finally:
                client.close()

        callers = [threading.Thread(target=call) for _ in range(CALLERS)]
        for caller in callers:
            caller.start()
        try:
            for version in [2, 3, 1, 3, 2, 1]:
                time.sleep(0.5)
                served.ws.models.promote("k", version)  # returns once the replica serves it
                seen = len(answers)
                deadline = time.monotonic() + 30
                while len(answers) < seen + 20 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert answers[-1] == (str(version), CONSTANTS[version - 1]), answers[-5:]
        finally:
            stop.set()
            for caller in callers:
                caller.join(timeout=30)
        assert failures == []
        assert len(answers) > 100
        for version, value in answers:
            assert value == CONSTANTS[int(version) - 1], (version, value)
        assert {v for v, _ in answers} == {"1", "2", "3"}


def test_up_serves_grpc_beside_the_control_plane(tmp_path: Path) -> None:
    with serving_over_grpc(tmp_path, command="up") as served:
        client = triton.InferenceServerClient(served.address)
        try:
            assert client.is_server_ready()
            result = client.infer("immo", [_x(25.0)], headers=served.auth("immo"))
            assert result.get_response().model_version == "1"
        finally:
            client.close()
