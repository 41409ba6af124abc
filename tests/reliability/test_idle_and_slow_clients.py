"""Idle connections and slow bodies against a real ``modelyard serve`` (one worker): 2,000
idle connections and 8 keyed slowloris bodies in ``make test`` (10,000 and 32 in
``make test-reliability``). Other clients keep being served (every request answered 200,
p99 recorded beside the p99 with nobody else connected), the server's memory stays bounded
(its growth per idle connection recorded), and every slow body gets 408 within the body
deadline and its check period."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from modelyard.web.body import TICK_S
from tests.helpers import figures
from tests.security.serving import ROW, immo_workspace, serving

IDLE = int(figures.scale(2_000, 10_000))
SLOW = int(figures.scale(8, 32))
BODY_TIMEOUT_S = 3.0
PROBES = 300
GROWTH_LIMIT_BYTES = 512 * 1024 * 1024  # bounded: far below what 10,000 buffered bodies hold


def _tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def _p99_ms(base: str, auth: dict[str, str]) -> tuple[float, list[int]]:
    """p99 latency of PROBES scoring requests on one keep-alive connection, and statuses."""
    took, statuses = [], []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(PROBES):
            began = time.perf_counter()
            answer = client.post("/endpoints/immo/score", json={"data": [ROW]}, headers=auth)
            took.append((time.perf_counter() - began) * 1000)
            statuses.append(answer.status_code)
    return statistics.quantiles(took, n=100)[98], statuses


@contextmanager
def _idle(base: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that were opened and never sent a byte."""
    host, port = base.removeprefix("http://").split(":")
    with ExitStack() as stack:
        yield [
            stack.enter_context(socket.create_connection((host, int(port)), timeout=30))
            for _ in range(count)
        ]


def _slow_body(base: str, auth: dict[str, str], stop: threading.Event, out: list[int]) -> None:
    """A keyed POST whose body comes one byte every half second; records the status."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        head = [
            "POST /endpoints/immo/score HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            "Content-Length: 4096",
            *[f"{k}: {v}" for k, v in auth.items()],
        ]
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        sock.setblocking(False)
        while not stop.is_set():
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                data = None
            if data:
                out.append(int(data.split(b" ", 2)[1]))
                return
            if data == b"":  # closed without an answer
                out.append(0)
                return
            try:
                sock.send(b" ")
            except OSError:
                out.append(0)
                return
            time.sleep(0.5)


@pytest.mark.slow
def test_idle_connections_and_slow_bodies_starve_nobody(tmp_path: Path) -> None:
    ws, key = immo_workspace(tmp_path)
    ws.close()
    args = ("--body-timeout", str(BODY_TIMEOUT_S))
    with serving(tmp_path, key, *args) as served:
        alone_p99, statuses = _p99_ms(served.base, served.auth)
        assert set(statuses) == {200}
        rss_before = _tree_rss(served.process.pid)
        stop = threading.Event()
        slow_statuses: list[int] = []
        with _idle(served.base, IDLE):
            slow = [
                threading.Thread(
                    target=_slow_body, args=(served.base, served.auth, stop, slow_statuses)
                )
                for _ in range(SLOW)
            ]
            began = time.monotonic()
            for thread in slow:
                thread.start()
            loaded_p99, statuses = _p99_ms(served.base, served.auth)
            rss_during = _tree_rss(served.process.pid)
            for thread in slow:
                thread.join(timeout=BODY_TIMEOUT_S + 30)
            slow_s = time.monotonic() - began
            stop.set()
        after_p99, after = _p99_ms(served.base, served.auth)
    growth = rss_during - rss_before
    per_idle = growth / IDLE
    passed = (
        set(statuses) == {200}
        and set(after) == {200}
        and slow_statuses == [408] * SLOW
        and growth < GROWTH_LIMIT_BYTES
    )
    figures.record(
        "Idle connections and slow bodies (one worker)",
        load=f"{IDLE:,} idle connections + {SLOW} keyed bodies sent a byte every 0.5 s; "
        f"{PROBES} probes",
        faults=f"slowloris bodies against a {BODY_TIMEOUT_S:g} s body deadline",
        result=(
            f"probes {statuses.count(200)}/{PROBES} answered 200; p99 {loaded_p99:.1f} ms "
            f"(alone {alone_p99:.1f} ms, after {after_p99:.1f} ms); slow bodies "
            f"{slow_statuses.count(408)}/{SLOW} got 408, all within {slow_s:.1f} s; "
            f"RSS {rss_before / 2**20:.0f} -> {rss_during / 2**20:.0f} MiB "
            f"({per_idle / 1024:.1f} KiB per idle connection)"
        ),
        passed=passed,
    )
    assert set(statuses) == {200} and set(after) == {200}, (statuses, after)
    assert slow_statuses == [408] * SLOW, slow_statuses
    assert slow_s < BODY_TIMEOUT_S + TICK_S + 15  # 408 by the deadline, not by luck
    assert growth < GROWTH_LIMIT_BYTES, f"RSS grew {growth / 2**20:.0f} MiB"
