"""Issue 13 item 2 through a real ``modelyard up`` process: unfinished request bodies no
longer lock everyone out. Key, Host and Origin are checked from the headers before any body
is read; only an authorised request takes an in-flight slot; a body that does not arrive
within the read deadline gets 408 and frees its slot; health never competes for slots."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.helpers.processes import Process, started
from tests.helpers.server import free_port
from tests.security.serving import immo_workspace

ADMIN_KEY = "the-admin-key-of-the-lockout-test"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ROWS = {"dataframe_records": [{"surface": 50.0}]}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Process]]:
    root = tmp_path_factory.mktemp("lockout")
    ws, key = immo_workspace(root)
    ws.close()
    port = free_port()
    env = {**os.environ, "MODELYARD_ADMIN_KEY": ADMIN_KEY}
    args = ("up", "--port", str(port), "--max-in-flight", "8", "--body-timeout", "3")
    with started(root, *args, env=env) as process:
        base = f"http://127.0.0.1:{port}"
        process.wait_ready(base)
        yield base, key, process


def _half(base: str, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection that sent the head of a chunked POST and half its first chunk."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    lines = [f"POST {path} HTTP/1.1", "Transfer-Encoding: chunked"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = "\r\n".join(lines).encode() + b"\r\n\r\n"
    sock.sendall(head + b"40\r\n" + b'{"name": "x", "model": "im')
    return sock


@contextmanager
def _held(
    base: str, path: str, headers: dict[str, str], count: int
) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        socks = [stack.enter_context(_half(base, path, headers)) for _ in range(count)]
        yield socks


def _answers(base: str, key: str) -> dict[str, int]:
    """What health, scoring and the admin API answer right now."""
    with httpx.Client(base_url=base, timeout=10) as client:
        return {
            "live": client.get("/v2/health/live").status_code,
            "ready": client.get("/v2/health/ready").status_code,
            "score": client.post(
                "/endpoints/immo/score", json=ROWS, headers={"Authorization": f"Bearer {key}"}
            ).status_code,
            "admin": client.get("/api/v1/endpoints", headers=ADMIN).status_code,
        }


def _status(sock: socket.socket, wait_s: float = 10) -> int:
    sock.settimeout(wait_s)
    data = sock.recv(4096)
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def test_64_keyless_half_bodies_lock_nobody_out(up: tuple[str, str, Process]) -> None:
    base, key, _ = up
    evil = {"Host": "evil.example", "Content-Type": "application/json"}
    keyless = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    with (
        _held(base, "/api/v1/endpoints", evil, 32) as admin_socks,
        _held(base, "/api/v1/endpoints", keyless, 16) as bare_socks,
        _held(base, "/endpoints/immo/score", keyless, 16) as score_socks,
    ):
        assert _answers(base, key) == {"live": 200, "ready": 200, "score": 200, "admin": 200}
        # each was refused from its headers alone, without waiting for its body
        assert {_status(s) for s in admin_socks} == {403}
        assert {_status(s) for s in bare_socks} == {401}
        assert {_status(s) for s in score_socks} == {401}
        assert _answers(base, key) == {"live": 200, "ready": 200, "score": 200, "admin": 200}


def test_an_authorised_half_body_gets_408_and_frees_its_slot(
    up: tuple[str, str, Process],
) -> None:
    base, key, _ = up
    keyed = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    with _held(
        base, "/endpoints/immo/score", {**keyed, "Authorization": f"Bearer {key}"}, 8
    ) as socks:
        time.sleep(0.5)
        # every slot is held by a keyed body still arriving: scoring waits its turn, health
        # and readiness never compete with it
        held = _answers(base, key)
        assert held["score"] == 429 and held["live"] == 200 and held["ready"] == 200, held
        began = time.monotonic()
        statuses = [_status(s, wait_s=30) for s in socks]
        assert statuses == [408] * 8, statuses
        assert time.monotonic() - began < 20
    assert _answers(base, key) == {"live": 200, "ready": 200, "score": 200, "admin": 200}
    with httpx.Client(base_url=base, timeout=10) as client:
        created = client.post(
            "/api/v1/endpoints", json={"name": "second", "model": "immo"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text


def test_a_half_body_with_the_admin_key_to_the_admin_api_gets_408(
    up: tuple[str, str, Process],
) -> None:
    base, key, _ = up
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json", **ADMIN}
    with _held(base, "/api/v1/endpoints", headers, 2) as socks:
        assert [_status(s, wait_s=30) for s in socks] == [408, 408]
    assert _answers(base, key)["admin"] == 200
