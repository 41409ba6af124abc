"""``modelyard serve`` as a real process: scores, refuses unsafe binds, stops on SIGTERM."""

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


def test_serve_scores_over_http_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    est, _ = fitted_immo()
    sio.dump(est, tmp_path / "model.skops")
    run = [sys.executable, "-m", "modelyard", "--workspace", str(tmp_path)]
    assert (
        subprocess.run([*run, "init", str(tmp_path)], capture_output=True, check=False).returncode
        == 0
    )
    subprocess.run(
        [*run, "models", "register", str(tmp_path / "model.skops"), "-n", "immo", "--promote"],
        check=True,
        capture_output=True,
    )
    created = subprocess.run(
        [*run, "endpoints", "create", "immo", "--model", "immo"],
        check=True,
        capture_output=True,
        text=True,
    )
    key = next(line.split()[-1] for line in created.stdout.splitlines() if "primary key" in line)
    port = free_port()
    server = subprocess.Popen(
        [*run, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, server.stderr
            time.sleep(0.2)
        answer = httpx.post(
            f"{base}/endpoints/immo/score",
            json={"data": [[25.0]]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200 and answer.headers["x-model-version"] == "1"
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit says why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Traceback" not in (server.stderr.read() if server.stderr else "")
        printed = server.stdout.read() if server.stdout else ""
        # the init template's [serve] url says 8080: the URI names the port it listens on
        assert f"immo: {base}/endpoints/immo/score" in printed, printed
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)


def test_serve_refuses_to_listen_beyond_loopback_without_keys(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "modelyard", "--workspace", str(tmp_path)]
    subprocess.run([*run, "init", str(tmp_path)], check=True, capture_output=True)
    refused = subprocess.run(
        [*run, "serve", "--host", "0.0.0.0", "--no-keys"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "refusing to serve without keys on 0.0.0.0" in refused.stderr


def test_serve_names_an_explicit_url_in_the_scoring_uris(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "modelyard", "--workspace", str(tmp_path)]
    subprocess.run([*run, "init", str(tmp_path)], check=True, capture_output=True)
    config = tmp_path / "modelyard.toml"
    config.write_text(
        config.read_text().replace(
            'url = "http://127.0.0.1:8080"', 'url = "https://models.example.com"'
        )
    )
    sio.dump(fitted_immo()[0], tmp_path / "model.skops")
    subprocess.run(
        [*run, "models", "register", str(tmp_path / "model.skops"), "-n", "notes", "--promote"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*run, "endpoints", "create", "notes", "--model", "notes"], check=True, capture_output=True
    )
    out = tmp_path / "serve.out"
    with out.open("w") as handle:
        server = subprocess.Popen(
            [*run, "serve", "--port", str(free_port())], stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "notes:" not in out.read_text():
            assert time.monotonic() < deadline and server.poll() is None, out.read_text()
            time.sleep(0.2)
        assert "notes: https://models.example.com/endpoints/notes/score" in out.read_text()
    finally:
        server.kill()
        server.wait(timeout=10)
