"""``modelyard serve -e E --mlflow-compat`` as a real process: MLflow's routes at the root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import skops.io as sio

from tests.helpers.models import fitted_immo
from tests.helpers.server import free_port


def test_mlflow_compat_serves_invocations_and_ping_at_the_root(tmp_path: Path) -> None:
    est, _ = fitted_immo()
    sio.dump(est, tmp_path / "model.skops")
    run = [sys.executable, "-m", "modelyard", "--workspace", str(tmp_path)]
    subprocess.run([*run, "init", str(tmp_path)], check=True, capture_output=True)
    subprocess.run(
        [*run, "models", "register", str(tmp_path / "model.skops"), "-n", "immo", "--promote"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*run, "endpoints", "create", "immo", "--model", "immo"], check=True, capture_output=True
    )
    port = free_port()
    server = subprocess.Popen(
        [*run, "serve", "--endpoint", "immo", "--mlflow-compat", "--no-keys", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # as ScoringServerClient.wait_server_ready does
            try:
                if httpx.get(f"{base}/ping").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, server.stderr
            time.sleep(0.3)
        body = {"dataframe_split": {"index": [0], "columns": ["surface"], "data": [[25.0]]}}
        answer = httpx.post(f"{base}/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 1
        assert answer.headers["x-model-version"] == "1"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
