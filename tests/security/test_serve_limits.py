"""Issue 13 items 5, 9 and 11 through a real ``modelyard serve`` process: the request-head
limit (431), one quiet line per burst of disconnecting clients, serve options checked for
range, and a prediction that overflows answered 422 naming the row on every route."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.security.serving import Served, immo_workspace, serving


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("limits")
    ws, key = immo_workspace(folder)
    ws.close()
    return folder, key


@pytest.fixture(scope="module")
def served(root: tuple[Path, str]) -> Iterator[Served]:
    with serving(*root) as server:
        yield server


def _raw(base: str, data: bytes, *, wait_s: float = 20.0) -> bytes:
    """Send ``data`` on a new connection; everything the server answered until it closed
    the connection or ``wait_s`` passed."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        with contextlib.suppress(OSError):  # it may close while we send: read what it said
            sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer


def test_a_head_over_64_kib_gets_431_without_a_key(served: Served) -> None:
    huge = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024)
    answer = _raw(served.base, huge + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"code":"headers_too_large"' in answer
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(1000))
    answer = _raw(served.base, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    long_url = b"GET /v2/health/live?" + b"q" * (100 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(served.base, long_url).startswith(b"HTTP/1.1 431 ")
    # a head that never ends is refused as soon as it passes the limit
    host, port = served.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sent = 0
        with pytest.raises(OSError):  # the server answers and closes before 16 MiB
            while sent < 16 * 1024 * 1024:
                sock.sendall(b"b" * 65536)
                sent += 65536
        assert sent < 16 * 1024 * 1024
    normal = httpx.get(f"{served.base}/v2/health/live", headers={"X-Fine": "f" * 8000})
    assert normal.status_code == 200
    again = httpx.post(
        f"{served.base}/endpoints/immo/score",
        json={"dataframe_records": [{"surface": 50.0}]},
        headers=served.auth,
    )
    assert again.status_code == 200, again.text


def test_clients_that_disconnect_mid_body_write_one_line_not_tracebacks(served: Served) -> None:
    before = len(served.process.output())
    head = (
        b"POST /endpoints/immo/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\n"
        b"Authorization: Bearer " + served.key.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
    )
    host, port = served.base.removeprefix("http://").split(":")
    for _ in range(30):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head + b'[{"surface": 5')
            time.sleep(0.02)
    time.sleep(1.0)
    assert httpx.get(f"{served.base}/v2/health/live").status_code == 200
    logged = served.process.output()[before:]
    assert "Traceback" not in logged, logged[:3000]
    assert len(logged.splitlines()) <= 3, logged[:3000]
    assert len(logged) < 1000, logged[:3000]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-in-flight", "0"),
        ("--max-body-mb", "-5"),
        ("--max-body-mb", "nan"),
        ("--timeout", "0"),
        ("--workers", "0"),
    ],
)
def test_serve_refuses_options_that_would_lock_every_request_out(
    root: tuple[Path, str], option: str, value: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", "--workspace", str(root[0]), "serve", option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout
    assert "error[config_invalid]" in done.stderr and option in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_an_overflowing_prediction_is_a_422_naming_the_row_on_every_route(
    served: Served,
) -> None:
    base, auth = served.base, served.auth
    rows = [{"surface": 50.0}, {"surface": 1e308}]
    answers = {
        "score": httpx.post(
            f"{base}/endpoints/immo/score", json={"dataframe_records": rows}, headers=auth
        ),
        "invocations": httpx.post(
            f"{base}/endpoints/immo/invocations",
            json={"dataframe_records": rows},
            headers=auth,
        ),
        "v2": httpx.post(
            f"{base}/v2/models/immo/infer",
            json={
                "inputs": [
                    {"name": "surface", "shape": [2], "datatype": "FP64", "data": [50.0, 1e308]}
                ]
            },
            headers=auth,
        ),
        "execute": httpx.post(
            f"{base}/endpoints/immo/execute?api-version=2.0",
            json={"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [[50.0], [1e308]]}}},
            headers=auth,
        ),
    }
    for route, answer in answers.items():
        assert answer.status_code == 422, (route, answer.text)
        assert "row 1" in answer.text, (route, answer.text)
        assert "null" not in answer.text and "inf" not in answer.text.lower().replace(
            "finite", ""
        ), (route, answer.text)
