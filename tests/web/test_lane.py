"""The protocol's scoring lane (web.lane): a one-shot request of a compiled model is
answered without the ASGI app, the same answer; whatever needs a wait goes to the app, once,
with the body it has; pipelining, a body coming after its head (or never), Connection: close,
draining, a full server and the metrics all behave as on the app's path. Real uvicorn,
real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.config.serve import ServeOptions
from modelyard.monitoring import tally
from modelyard.monitoring.prometheus import exposition
from modelyard.web.app import create_app
from modelyard.web.lifecycle import drain_on_sigterm
from tests.helpers.endpoints import Served, immo_predictions, serving_immo_and_churn
from tests.helpers.server import running


class Counted:
    """The app's own front, counting the requests it is given (the lane's never are)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Lane:
    served: Served
    base: str
    front: Counted
    drain: Any

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def key(self) -> str:
        return self.served.keys["immo"]


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("lane")) as served:
        limits = ServeOptions(max_in_flight=1, body_timeout_s=1.0)
        app = create_app(served.ws, limits=limits, follow_interval=0.2)
        assert app.front is not None
        front = app.front = Counted(app.front)
        wrapped = drain_on_sigterm(app, delay_s=0)
        with running(wrapped) as base:  # type: ignore[arg-type]
            served.wait_served("immo")
            yield Lane(served, base, front, wrapped.drain)


def _score(lane: Lane, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{lane.base}/endpoints/immo/score",
        json=body,
        headers={"Authorization": f"Bearer {lane.key()}", **headers},
        timeout=30,
    )


def test_a_one_row_request_never_reaches_the_app_and_gets_the_same_answer(lane: Lane) -> None:
    lane.front.paths.clear()
    answers = [_score(lane, {"data": [[float(i)]]}) for i in range(20)]
    assert [a.json()["predictions"] for a in answers] == [immo_predictions(i) for i in range(20)]
    assert lane.front.paths == []
    ids = {a.headers["x-request-id"] for a in answers}
    assert len(ids) == 20  # a fresh id each
    assert all(a.headers["x-model-version"] == "1" for a in answers)
    given = _score(lane, {"data": [[1.0]]}, **{"X-Request-Id": "r" * 300})
    assert given.headers["x-request-id"] == "r" * 128  # the client's, cut as the app cuts it
    keyless = _request(lane, b'{"data": [[1.0]]}').replace(b"Authorization: Bearer", b"X-No:")
    ((status, _, document),) = _answers(_raw(lane, keyless))
    assert status.startswith("HTTP/1.1 401") and document["code"] == "unauthorized"
    assert lane.front.paths == []


def test_what_needs_a_wait_goes_to_the_app_once_with_its_body(lane: Lane) -> None:
    lane.front.paths.clear()
    many = [[float(i)] for i in range(200)]  # past the inline rows: a worker thread scores
    answer = _score(lane, {"data": many})
    assert answer.status_code == 200
    assert answer.json()["predictions"] == immo_predictions(*range(200))
    big = {"data": [[1.0]], "pad": "x" * (70 * 1024)}  # over the lane's 64 KiB
    assert _score(lane, big).status_code in (200, 400)

    def pieces() -> Iterator[bytes]:  # chunked: no Content-Length
        yield b'{"data": [[2.0'
        yield b"]]}"

    chunked = httpx.post(
        f"{lane.base}/endpoints/immo/score",
        content=pieces(),
        headers={"Authorization": f"Bearer {lane.key()}", "Content-Type": "application/json"},
    )
    assert chunked.json()["predictions"] == immo_predictions(2.0)
    assert lane.front.paths == ["/endpoints/immo/score"] * 3


def _raw(lane: Lane, payload: bytes, *, wait_s: float = 10.0) -> bytes:
    """Send ``payload`` on one connection and read until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", lane.port), timeout=wait_s) as sock:
        sock.sendall(payload)
        sock.settimeout(1.0)
        data = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if data:
                    break
                continue
            if not chunk:
                break
            data += chunk
        return data


def _request(lane: Lane, body: bytes, *extra: str, version: str = "1.1") -> bytes:
    head = [
        f"POST /endpoints/immo/score HTTP/{version}",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {lane.key()}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _answers(raw: bytes) -> list[tuple[str, dict[str, str], Any]]:
    """(status line, headers, JSON body) of each HTTP/1.1 answer in ``raw``."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        found.append((lines[0], headers, orjson.loads(rest[:length])))
        raw = rest[length:]
    return found


def test_pipelined_requests_are_answered_in_order_whichever_path_answers(lane: Lane) -> None:
    lane.front.paths.clear()
    many = orjson.dumps({"data": [[float(i)] for i in range(100)]})
    payload = b"".join(
        (
            _request(lane, b'{"data": [[1.0]]}'),
            _request(lane, many),  # the app's (a worker thread)
            _request(lane, b'{"data": [[3.0]]}'),
            _request(lane, b'{"data": [[4.0]]}', "Connection: close"),
        )
    )
    answers = _answers(_raw(lane, payload))
    assert [a[2]["predictions"] for a in answers] == [
        immo_predictions(1.0),
        immo_predictions(*range(100)),
        immo_predictions(3.0),
        immo_predictions(4.0),
    ]
    assert all(a[0] == "HTTP/1.1 200 OK" for a in answers)
    assert answers[-1][1]["connection"] == "close"
    assert lane.front.paths  # the second took the app's path, the others may queue behind it


def test_a_body_that_comes_after_its_head_is_waited_for_until_the_deadline(
    lane: Lane,
) -> None:
    lane.front.paths.clear()
    body = b'{"data": [[5.0]]}'
    message = _request(lane, body, "Connection: close")
    cut = len(message) - len(body) // 2
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(message[:cut])
        time.sleep(0.3)  # the rest comes later, within the deadline (1 s here)
        sock.sendall(message[cut:])
        data = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            data += chunk
    ((status, headers, document),) = _answers(data)
    assert status == "HTTP/1.1 200 OK" and headers["connection"] == "close"
    assert document["predictions"] == immo_predictions(5.0)
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(message[:cut].replace(b"Connection: close", b"X-Request-Id: slow"))
        began = time.monotonic()
        data = sock.recv(65536)  # the 408, as the app answers it: the connection stays
        waited = time.monotonic() - began
        ((status, headers, document),) = _answers(data)
        sock.sendall(message[cut:])  # the rest of the refused body is read and dropped
        sock.sendall(_request(lane, b'{"data": [[6.0]]}'))  # the connection serves on
        ((_, _, after),) = _answers(sock.recv(65536))
    assert status.startswith("HTTP/1.1 408") and "connection" not in headers
    assert document["code"] == "body_timeout" and "1 s" in document["message"]
    assert headers["x-request-id"] == "slow"
    assert 0.9 <= waited < 3.0
    assert after["predictions"] == immo_predictions(6.0)
    assert lane.front.paths == []  # all were the lane's


def test_http_1_0_and_expect_continue_go_to_the_app(lane: Lane) -> None:
    lane.front.paths.clear()
    old = _answers(_raw(lane, _request(lane, b'{"data": [[6.0]]}', version="1.0")))
    assert old[0][2]["predictions"] == immo_predictions(6.0)
    body = b'{"data": [[7.0]]}'
    expect = _request(lane, b"", "Expect: 100-continue").replace(
        b"Content-Length: 0", b"Content-Length: %d" % len(body)
    )
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(expect)
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        data = sock.recv(65536)
    assert _answers(data)[0][2]["predictions"] == immo_predictions(7.0)
    assert lane.front.paths == ["/endpoints/immo/score"] * 2


@pytest.mark.parametrize("holder", ["chunked", "length"])
def test_a_full_server_answers_429_from_the_app(lane: Lane, holder: str) -> None:
    """max_in_flight = 1: a request whose body is still coming holds the one slot, read by
    the app (chunked) or by the lane (a Content-Length, half of it sent)."""
    lane.front.paths.clear()
    body = b'{"data": [[1.0]]}'
    if holder == "chunked":
        head = _request(lane, b"").replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
        first, rest = head + b"5\r\n" + body[:5] + b"\r\n", body[5:]
        rest = b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest)
    else:
        whole = _request(lane, body)
        first, rest = whole[:-5], whole[-5:]
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as slow:
        slow.sendall(first)
        time.sleep(0.3)  # admitted: its slot is taken while the rest is awaited
        full = _score(lane, {"data": [[1.0]]})
        assert full.status_code == 429 and full.json()["code"] == "overloaded"
        assert full.headers["retry-after"]
        slow.sendall(rest)
        ((status, _, document),) = _answers(slow.recv(65536))
        assert status == "HTTP/1.1 200 OK" and document["predictions"] == immo_predictions(1.0)
    assert _score(lane, {"data": [[1.0]]}).status_code == 200
    if holder == "length":  # the lane read it; the 429 was the app's
        assert "/endpoints/immo/score" in lane.front.paths


def test_a_body_still_coming_with_a_wrong_key_is_refused_by_the_app_at_once(
    lane: Lane,
) -> None:
    lane.front.paths.clear()
    whole = _request(lane, b'{"data": [[1.0]]}').replace(lane.key().encode(), b"nope")
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(whole[:-5])  # never sends the rest: refused from its head
        ((status, _, document),) = _answers(sock.recv(65536))
    assert status.startswith("HTTP/1.1 401") and document["code"] == "unauthorized"
    assert lane.front.paths == ["/endpoints/immo/score"]


def test_lane_answers_are_counted_in_metrics(lane: Lane) -> None:
    def counted() -> dict[tuple[str, str], float]:
        tally.flush()
        text = httpx.get(f"{lane.base}/metrics").text
        return {
            (s.labels["status"], s.labels["version"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "modelyard_requests_total"
            and s.labels.get("endpoint") == "immo"
            and s.labels.get("protocol") == "azureml"
        }

    before = counted()
    lane.front.paths.clear()
    for _ in range(7):
        assert _score(lane, {"data": [[1.0]]}).status_code == 200
    for _ in range(3):
        assert _score(lane, {"data": [["big"]]}).status_code == 422
    after = counted()
    assert "/endpoints/immo/score" not in lane.front.paths  # the lane answered them all
    assert after.get(("200", "1"), 0) - before.get(("200", "1"), 0) == 7
    assert after.get(("422", ""), 0) - before.get(("422", ""), 0) == 3


def _metric(name: str, **labels: str) -> float:
    """A metric of this process (the test server's: no scrape, which would take a slot)."""
    tally.flush()
    text = exposition()[0].decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_a_body_still_coming_is_in_flight_and_an_alias_is_its_endpoints(lane: Lane) -> None:
    whole = _request(lane, b'{"data": [[1.0]]}')
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(whole[:-5])
        time.sleep(0.3)
        assert _metric("modelyard_requests_in_flight", protocol="azureml") == 1
        sock.sendall(whole[-5:])
        assert _answers(sock.recv(65536))[0][0] == "HTTP/1.1 200 OK"
    assert _metric("modelyard_requests_in_flight", protocol="azureml") == 0
    v2 = b'{"inputs": [{"name": "surface", "datatype": "FP64", "shape": [1], "data": [25]}]}'
    before = _metric("modelyard_requests_total", endpoint="immo", protocol="v2")
    for chunked in (False, True):  # the lane's, then the app's
        message = _request(lane, b"" if chunked else v2)
        if chunked:
            message = message.replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
            message += b"%x\r\n%s\r\n0\r\n\r\n" % (len(v2), v2)
        message = message.replace(b"/endpoints/immo/score", b"/v2/models/immo@champion/infer")
        assert _answers(_raw(lane, message))[0][0] == "HTTP/1.1 200 OK"
    after = _metric("modelyard_requests_total", endpoint="immo", protocol="v2")
    assert after - before == 2


def test_nothing_after_a_connection_close_is_answered_or_run(lane: Lane) -> None:
    lane.front.paths.clear()
    first = _request(lane, b'{"data": [[1.0]]}', "Connection: close")
    many = orjson.dumps({"data": [[float(i)] for i in range(100)]})  # would be the app's
    answers = _answers(_raw(lane, first + _request(lane, many)))
    assert len(answers) == 1 and answers[0][1]["connection"] == "close"
    time.sleep(0.2)
    assert lane.front.paths == []  # the second was never started


def test_a_408_honours_connection_close(lane: Lane) -> None:
    whole = _request(lane, b'{"data": [[1.0]]}', "Connection: close")
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(whole[:-5])
        data = b""
        while chunk := sock.recv(65536):  # the 408, then the server closes
            data += chunk
    ((status, headers, _),) = _answers(data)
    assert status.startswith("HTTP/1.1 408") and headers["connection"] == "close"


def test_a_cors_request_is_the_apps(tmp_path: Path) -> None:
    origin = "https://studio.example"
    with serving_immo_and_churn(tmp_path, cors_origins=(origin,)) as served:
        app = create_app(served.ws, follow_interval=0.2)
        assert app.front is not None
        front = app.front = Counted(app.front)
        with running(app) as base:
            served.wait_served("immo")
            port = int(base.rsplit(":", 1)[1])
            body = b'{"data": [[1.0]]}'
            head = (
                f"POST /endpoints/immo/score HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n"
                f"Authorization: Bearer {served.keys['immo']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(head + body)
                ((status, headers, _),) = _answers(sock.recv(65536))
            assert status == "HTTP/1.1 200 OK"
            assert headers["access-control-allow-origin"] == origin
            assert front.paths == ["/endpoints/immo/score"]


def test_a_draining_replica_answers_from_the_app_with_connection_close(
    tmp_path: Path,
) -> None:
    with serving_immo_and_churn(tmp_path) as served:
        app = create_app(served.ws, follow_interval=0.2)
        assert app.front is not None
        front = app.front = Counted(app.front)
        wrapped = drain_on_sigterm(app, delay_s=0)
        with running(wrapped) as base:  # type: ignore[arg-type]
            served.wait_served("immo")
            url = f"{base}/endpoints/immo/score"
            auth = served.auth("immo")
            before = httpx.post(url, json={"data": [[1.0]]}, headers=auth)
            assert "connection" not in before.headers and front.paths == []
            wrapped.drain.begin()
            during = httpx.post(url, json={"data": [[1.0]]}, headers=auth)
            assert during.status_code == 200 and during.headers["connection"] == "close"
            assert front.paths == ["/endpoints/immo/score"]
