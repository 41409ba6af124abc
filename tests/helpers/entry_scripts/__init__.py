"""Entry scripts for the entry-host tests, and running them: under modelyard's host
(``modelyard_entry_host.py``) or under Microsoft's azureml-inference-server-http.

The reference server lives in a virtual environment of its own, built once under the
test cache (``$MODELYARD_TEST_CACHE``, default ``~/.cache/modelyard-tests``), because
installing it into the project's environment would downgrade pydantic, wrapt and
opentelemetry. It also serves as "an endpoint's own environment" with inference-schema,
numpy and pandas and nothing of modelyard.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.venvs import cached_venv

SCRIPTS = Path(__file__).parent
REFERENCE_PACKAGES = (
    "azureml-inference-server-http==1.5.1",
    "inference-schema==1.8",
    "numpy",
    "pandas",
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def shim_dir() -> Path:
    """The installed ``modelyard/deployments/entry/shim`` folder (found without importing it)."""
    spec = importlib.util.find_spec("modelyard")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "deployments" / "entry" / "shim"


def reference_python() -> Path:
    """The Python of the reference environment (azmlinfsrv), built on first use."""
    return cached_venv("azmlinfsrv-1.5.1", REFERENCE_PACKAGES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lay_out(
    root: Path,
    script: str,
    models: dict[str, dict[int, dict[str, bytes]]] | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """An app root: ``score.py`` copied from this folder's ``script``, models laid out as
    ``azureml-models/<name>/<version>/<file>``, ``extra`` files written as given."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPTS / script, root / "score.py")
    for name, versions in (models or {}).items():
        for version, files in versions.items():
            folder = root / "azureml-models" / name / str(version)
            folder.mkdir(parents=True, exist_ok=True)
            for file, data in files.items():
                (folder / file).write_bytes(data)
    for file, text in (extra or {}).items():
        (root / file).write_text(text)
    return root


class Server:
    """A server process (ours or the reference) and its output file."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        out: Path,
        base: str = "",
        port_file: Path | None = None,
    ) -> None:
        self.popen = popen
        self.out = out
        self.base = base
        self.port_file = port_file

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if it lingers."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def environment(root: Path, env: dict[str, str] | None) -> dict[str, str]:
    """The variables azmlinfsrv and our host get for app root ``root``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AML_"))}
    base.update(
        {
            "AML_APP_ROOT": str(root),
            "AZUREML_ENTRY_SCRIPT": "score.py",
            "AZUREML_MODEL_DIR": str(root / "azureml-models"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    base.update(env or {})
    return base


def start_host(
    root: Path,
    python: Path | str = sys.executable,
    env: dict[str, str] | None = None,
    script: str = "score.py",
) -> Server:
    """modelyard's host on ``root`` (cwd = root), not waited for."""
    port_file = root.parent / f".{root.name}.port"
    port_file.unlink(missing_ok=True)
    out = root.parent / f"{root.name}-host.out"
    with out.open("wb") as handle:
        popen = subprocess.Popen(
            [
                str(python),
                str(shim_dir() / "modelyard_entry_host.py"),
                "--entry-script",
                script,
                "--port-file",
                str(port_file),
            ],
            cwd=root,
            env=environment(root, env),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return Server(popen, out, port_file=port_file)


def wait_host(server: Server, timeout: float = 60) -> str:
    """The host's base URL once its port file appears."""
    port_file = server.port_file
    assert port_file is not None
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        assert server.popen.poll() is None, f"host exited:\n{server.output()}"
        assert time.monotonic() < deadline, f"host not ready:\n{server.output()}"
        time.sleep(0.05)
    server.base = f"http://127.0.0.1:{int(port_file.read_text())}"
    return server.base


@contextmanager
def host(
    root: Path, python: Path | str = sys.executable, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """modelyard's host serving ``root`` until the block ends."""
    server = start_host(root, python, env)
    try:
        wait_host(server)
        yield server
    finally:
        server.stop()


LAUNCH = """
import sys
import azureml_inference_server_http.amlserver as amlserver
amlserver.DEFAULT_HOST = "127.0.0.1"
sys.argv = ["azmlinfsrv"] + sys.argv[1:]
amlserver.run()
"""


@contextmanager
def reference(root: Path, python: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """azmlinfsrv serving ``root`` on 127.0.0.1 until the block ends (gunicorn is told not
    to open its control socket, so that several can run at once)."""
    port = free_port()
    launch = root.parent / f"{root.name}-launch.py"
    launch.write_text(LAUNCH)
    out = root.parent / f"{root.name}-reference.out"
    variables = environment(root, {"GUNICORN_CMD_ARGS": "--no-control-socket", **(env or {})})
    with out.open("wb") as handle:
        popen = subprocess.Popen(
            [str(python), str(launch), "--entry_script", "score.py", "--port", str(port)],
            cwd=root,
            env=variables,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(popen, out, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        while True:
            assert popen.poll() is None, f"azmlinfsrv exited:\n{server.output()}"
            assert time.monotonic() < deadline, f"azmlinfsrv not ready:\n{server.output()}"
            try:
                if httpx.get(server.base + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield server
    finally:
        server.stop()
