"""``modelyard serve --workers 2`` on Linux: each worker listens on a socket of its own
(``SO_REUSEPORT``), so connections opened together are spread over the workers instead of
going to whichever worker wakes first; a port something listens on (a ``SO_REUSEPORT``
group of the same user included) is one readable line, for ``--port`` and ``--grpc-port``,
with one worker or several.

The spread is shown where a shared socket cannot spread: both workers are stopped
(SIGSTOP), 16 connections are opened, one worker is resumed and then the other. On a
shared socket the first worker back accepts all 16; here each worker accepts those the
kernel queued on its own socket (all 16 on one of two sockets: 1 chance in 32,768).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from uvicorn.config import STARTUP_FAILURE

from modelyard.cli.listeners import (
    PortShare,
    balanced,
    check_free,
    claim,
    run_server,
    worker_socket,
)
from modelyard.errors import ConfigError
from tests.cli.test_cli import cli
from tests.helpers.processes import started, workers_of
from tests.helpers.server import free_port

pytestmark = pytest.mark.skipif(not balanced(), reason="SO_REUSEPORT balances on Linux only")

CONNECTIONS = 16
MODELYARD = (sys.executable, "-m", "modelyard")


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    return tmp_path


def _listening(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (any address family), /proc/net's."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                    inodes.add(fields[9])
    return inodes


def _listeners(pid: int, port: int) -> dict[int, set[str]]:
    """The supervisor's child processes holding a socket listening on ``port`` (its
    workers, not the monitoring writer), each with those sockets."""
    listening = {f"socket:[{inode}]" for inode in _listening(port)}
    holding = {}
    for child in workers_of(pid):
        links = set()
        for fd in Path(f"/proc/{child}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                links.add(os.readlink(fd))
        if links & listening:
            holding[child] = links & listening
    return holding


def _worker_of(connection: http.client.HTTPConnection) -> str:
    """The answering process: the per-process prefix of the request id it gave."""
    connection.request("GET", "/v2/health/live")
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    return answer.headers["x-request-id"][:16]


def test_connections_opened_together_are_spread_over_the_workers(root: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started(root, "serve", "--port", str(port), "--workers", "2") as server:
        server.wait_ready(base, timeout=240)
        server.wait_for(lambda: len(_listeners(server.pid, port)) == 2, 120, "both workers")
        holding = _listeners(server.pid, port)
        first, second = holding
        connections: list[http.client.HTTPConnection] = []
        try:
            os.kill(first, signal.SIGSTOP)
            os.kill(second, signal.SIGSTOP)
            for _ in range(CONNECTIONS):  # the kernel completes each handshake by itself
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.connect()
                connections.append(connection)
            os.kill(first, signal.SIGCONT)
            time.sleep(0.5)  # the first worker back accepts all it can
        finally:
            os.kill(first, signal.SIGCONT)
            os.kill(second, signal.SIGCONT)
        workers = [_worker_of(c) for c in connections]
        assert [_worker_of(c) for c in connections] == workers  # a connection keeps its worker
        for connection in connections:
            connection.close()
    split = Counter(workers)
    assert len(split) == 2, f"every connection went to one worker: {split}"
    assert sum(split.values()) == CONNECTIONS
    assert all(len(held) == 1 for held in holding.values())  # a socket each...
    assert not holding[first] & holding[second]  # ...of its own


def _holder(host: str, shared: bool) -> socket.socket:
    """A socket listening on a free port of ``host``; ``shared``: in a ``SO_REUSEPORT``
    group, as another ``serve --workers N`` of this user would hold it."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, 0))
    holder.listen()
    return holder


@pytest.mark.parametrize(
    ("held_on", "shared", "workers", "option"),
    [
        ("127.0.0.1", False, "1", "--port"),
        ("127.0.0.1", True, "2", "--port"),  # another serve --workers N of this user
        ("0.0.0.0", True, "2", "--port"),  # serve on 127.0.0.1 would take its loopback ones
        ("127.0.0.1", True, "2", "--grpc-port"),
    ],
)
def test_a_port_something_listens_on_is_one_readable_line(
    root: Path, held_on: str, shared: bool, workers: str, option: str
) -> None:
    with _holder(held_on, shared) as holder:
        busy = holder.getsockname()[1]
        ports = {"--port": busy} if option == "--port" else {"--port": free_port(), option: busy}
        given = [part for name, port in ports.items() for part in (name, str(port))]
        done = subprocess.run(
            [*MODELYARD, "--workspace", str(root), "serve", *given, "--workers", workers],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    printed = done.stderr + done.stdout
    assert done.returncode == 1  # the CLI's one-line error
    assert f"cannot listen on 127.0.0.1:{busy}" in printed
    assert f"the port is in use: stop what holds it or choose another {option}" in printed
    assert "modelyard serving on" not in printed  # refused before anything started
    assert "Traceback" not in printed


def test_up_refuses_a_port_something_listens_on(root: Path) -> None:
    with _holder("127.0.0.1", shared=True) as holder:
        busy = holder.getsockname()[1]
        done = subprocess.run(
            [*MODELYARD, "--workspace", str(root), "up", "--port", str(busy)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "MODELYARD_ADMIN_KEY": "k" * 32},
        )
    printed = done.stderr + done.stdout
    assert done.returncode == 1, printed  # the CLI's one-line error
    assert f"cannot listen on 127.0.0.1:{busy}: " in printed
    assert "control plane on" not in printed and "Traceback" not in printed


def test_a_second_server_is_refused_while_the_first_is_still_starting() -> None:
    port = free_port()
    first = PortShare.reserve("127.0.0.1", port)  # bound, claimed, nothing listening yet
    try:
        with pytest.raises(ConfigError, match="another modelyard server on this machine"):
            PortShare.reserve("0.0.0.0", port)
    finally:
        first.close()
    PortShare.reserve("127.0.0.1", port).close()  # the claim goes with its server


def test_a_grpc_port_another_modelyard_server_claims_is_refused(root: Path) -> None:
    grpc_port = free_port()
    ports = ["--port", str(free_port()), "--grpc-port", str(grpc_port)]
    with claim(grpc_port, "--grpc-port"):  # as a server still loading its models holds it
        done = subprocess.run(
            [*MODELYARD, "--workspace", str(root), "serve", *ports],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    printed = done.stderr + done.stdout
    assert done.returncode == 1, printed  # the CLI's one-line error
    assert f"cannot listen on port {grpc_port}: another modelyard server" in printed
    assert "choose another --grpc-port" in printed and "modelyard serving on" not in printed


def test_run_server_exits_as_a_failed_start_when_its_workers_cannot_start() -> None:
    code = (
        "from modelyard.cli.listeners import run_server\n"
        f"run_server('tests.helpers.failing_app:app', host='127.0.0.1', port={free_port()},"
        " workers=2, log_level='critical')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == STARTUP_FAILURE, done.stderr[-2000:]


def test_a_port_number_out_of_range_is_one_line() -> None:
    with pytest.raises(ConfigError, match="--grpc-port 70000 is not a port"):
        check_free("127.0.0.1", 70000, "--grpc-port")


def test_a_worker_that_cannot_bind_stops_as_a_failed_start() -> None:
    with pytest.raises(SystemExit) as stopped:
        worker_socket(int(socket.AF_INET), ("192.0.2.1", free_port()))  # not this machine's
    assert stopped.value.code == STARTUP_FAILURE  # uvicorn's supervisor then stops, no loop


def test_run_server_refuses_what_it_would_ignore() -> None:
    with pytest.raises(ValueError, match="no uds, fd or reload"):
        run_server("hello:app", workers=2, uds="/tmp/modelyard-test.sock")
