"""A real one-node Ray cluster on loopback with token authentication, for tests and bench.

``ray start --head`` with ``RAY_AUTH_MODE=token`` and a fresh token, every process bound
to 127.0.0.1, ``num_cpus`` CPU slots (one task each at a time); stopped by its process
group, not ``ray stop`` (which would stop other people's clusters on a shared machine).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.server import free_port

RAY_STARTUP_S = 120.0


class RayUnavailable(Exception):
    """The cluster could not start here (Ray missing, or it did not come up)."""


@contextmanager
def ray_cluster(num_cpus: int = 1) -> Iterator[tuple[str, str]]:
    """Start a cluster; yields (its Ray Client address, its token). The variables the
    executor sets in this process (``RAY_AUTH_*``) are restored when it stops."""
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        raise RayUnavailable(
            f"Ray is not installed here ({ray_cli} missing): pip install -e '.[dev]'"
        )
    token = secrets.token_hex(16)
    temp = Path(tempfile.mkdtemp(prefix="myr", dir="/tmp"))  # Ray's socket paths are short
    gcs_port, client_port = free_port(), free_port()
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        # Ray resolves 127.0.0.1 to the machine's address unless told it is single-node.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }
    command = [str(ray_cli), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    command += ["--port", str(gcs_port), "--ray-client-server-port", str(client_port)]
    command += ["--include-dashboard", "false", "--num-cpus", str(num_cpus)]
    command += ["--disable-usage-stats", "--temp-dir", str(temp)]
    log = temp / "ray-start.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    before = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    try:
        _wait_for_port(client_port, process, log)
        yield f"ray://127.0.0.1:{client_port}", token
    finally:
        _stop_group(process)
        for key, value in before.items():  # the executor set them in this process
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + RAY_STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RayUnavailable(f"ray start exited with {process.returncode}: {tail}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RayUnavailable(f"the Ray cluster did not open port {port} in {RAY_STARTUP_S:.0f} s")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the cluster's process group (its id is the pid we started), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                process.wait()
                return
            process.poll()
            time.sleep(0.2)
