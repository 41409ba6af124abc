"""Long-running ``modelyard`` commands (``up``, ``worker``) as real processes, their
output in files (a pipe nobody reads would fill up and block them)."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def started(root: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Process]:
    """``python -m modelyard --workspace ROOT ARGS`` until the block ends (then SIGKILL if
    it still runs)."""
    process = Process(root, args, env)
    try:
        yield process
    finally:
        process.kill()


class Process:
    """A running command and what it printed so far."""

    def __init__(self, root: Path, args: tuple[str, ...], env: dict[str, str] | None) -> None:
        name = "-".join(a for a in args if not a.startswith("-"))[:40] or "modelyard"
        self.out = root / f"{name}-{time.monotonic_ns()}.out"
        with self.out.open("w") as handle:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "modelyard", "--workspace", str(root), *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, **(env or {})},
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        """Everything printed so far (stdout and stderr)."""
        return self.out.read_text()

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``check`` until true; returns the seconds it took. Fails if the process
        exits or ``timeout`` passes first."""
        began = time.monotonic()
        while not check():
            assert self.popen.poll() is None, f"exited before {what}:\n{self.output()}"
            assert time.monotonic() - began < timeout, f"no {what} in {timeout} s:\n{self.output()}"
            time.sleep(0.2)
        return time.monotonic() - began

    def wait_ready(
        self, base: str, timeout: float = 60, verify: bool | ssl.SSLContext = True
    ) -> None:
        """Wait until the server at ``base`` answers its readiness probe (over HTTPS,
        ``verify`` may trust a test's own CA)."""

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/v2/health/ready", verify=verify).status_code == 200
            except httpx.TransportError:
                return False

        self.wait_for(ready, timeout, "readiness")

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code."""
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL if still running."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def workers_of(pid: int) -> list[int]:
    """The uvicorn workers ``pid`` started (multiprocessing's spawned children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found
