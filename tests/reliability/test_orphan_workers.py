"""``modelyard serve --workers 2`` SIGKILLed (an orchestrator's last resort, an OOM kill):
its workers notice that their ``serve`` process is gone and stop, rather than serving on
with no process left to stop them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli import cli
from tests.helpers.processes import started, workers_of
from tests.helpers.server import free_port


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_stop_once_their_serve_process_is_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started(
        tmp_path, "serve", "--port", str(port), "--workers", "2", "--drain-seconds", "0"
    ) as server:
        server.wait_ready(base, timeout=240)
        workers = workers_of(server.pid)
        assert len(workers) == 2, server.output()
        os.kill(server.pid, signal.SIGKILL)
        server.popen.wait(10)
        deadline = time.monotonic() + 30
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [w for w in workers if alive(w)]
        for pid in left:  # not to leave them behind when the test fails
            os.kill(pid, signal.SIGKILL)
        assert not left, f"workers {left} still serve after their serve process was killed"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/v2/health/live", timeout=2)
