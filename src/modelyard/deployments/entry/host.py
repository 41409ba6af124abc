"""One entry-script worker process: started in its environment, watched, stopped.

The child runs ``shim/modelyard_entry_host.py`` (standard library only) with the
endpoint's own interpreter: it imports the entry script, calls ``init()`` once, then
writes the port it listens on to a file; that file appearing is readiness. Its stdout
and stderr lines go to ``log`` as they come. The child gets a clean environment: none
of modelyard's own variables (database URL, admin key) reach user code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from modelyard.errors import ModelUnavailable

INIT_FAILED = 3  # azmlinfsrv's exit code when init() raises
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SSL_CERT_FILE")

Log = Callable[[str, str], None]  # (stream, line)


def shim_dir() -> Path:
    """The folder holding the host script and the clean-room ``azureml`` shim."""
    return Path(str(resources.files("modelyard.deployments.entry") / "shim"))


def child_environment(extra: Mapping[str, str], threads: int) -> dict[str, str]:
    """A minimal environment for user code: basics, thread caps and the Azure variables."""
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# how the shim reports a script it cannot load (an import failure, no run()), on stderr
_SCRIPT_ERROR = "_modelyard_entry.script.ScriptError: "


class HostProcess:
    """A child serving the azmlinfsrv routes on 127.0.0.1 for one worker."""

    def __init__(
        self,
        python: Path,
        app_root: Path,
        entry_script: Path,
        env: Mapping[str, str],
        log: Log,
        *,
        label: str = "worker",
    ) -> None:
        self.python = python
        self.app_root = app_root
        self.entry_script = entry_script
        self.env = dict(env)
        self.label = label
        self._log = log
        self._port_file = app_root.parent / f".{app_root.name}.{label}.{os.getpid()}.port"
        self._process: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self.port: int | None = None
        self.started_at = 0.0
        self.last_stderr: deque[str] = deque(maxlen=20)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child; :meth:`wait_ready` tells when ``init()`` is done."""
        self._port_file.unlink(missing_ok=True)
        command = [
            str(self.python),
            str(shim_dir() / "modelyard_entry_host.py"),
            "--entry-script",
            str(self.entry_script),
            "--port-file",
            str(self._port_file),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        self._process = subprocess.Popen(  # noqa: S603  # our host script, the endpoint's python
            command,
            cwd=self.app_root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl+C to the server is not sent to user code
        )
        self.started_at = time.monotonic()
        self._readers = [
            threading.Thread(target=self._pump, args=(stream, name), daemon=True)
            for stream, name in ((self._process.stdout, "stdout"), (self._process.stderr, "stderr"))
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: object, name: str) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode("utf-8", "replace").rstrip()
            if name == "stderr" and line.strip():
                self.last_stderr.append(line.strip())
            self._log(name, f"[{self.label}] {line}")

    def wait_ready(self, timeout_s: float, stop: threading.Event | None = None) -> int:
        """Block until the child listens; returns its port. Raises ``ModelUnavailable``
        with the exit code if it died first (3: ``init()`` raised)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.returncode
            if code is not None:
                for reader in self._readers:
                    reader.join(timeout=2)
                what = "init() failed" if code == INIT_FAILED else f"exited with code {code}"
                cause = self.last_exception()
                if cause.startswith(_SCRIPT_ERROR):  # the script could not even be loaded
                    what, cause = "could not load the script", cause[len(_SCRIPT_ERROR) :]
                last = f" ({cause})" if cause else ""
                raise ModelUnavailable(
                    f"the entry script's worker {self.label} {what}{last}: the endpoint's "
                    "logs have the whole output"
                )
            if self._port_file.exists():
                text = self._port_file.read_text(encoding="utf-8").strip()
                if text.isdigit():
                    self.port = int(text)
                    return self.port
            if stop is not None and stop.is_set():
                raise ModelUnavailable("stopped while the entry script started")
            time.sleep(0.05)
        self.stop()
        raise ModelUnavailable(f"init() did not finish within {timeout_s:g} s")

    def last_exception(self) -> str:
        """The last ``SomeError: message`` line the child wrote to stderr (or its last line)."""
        lines = list(self.last_stderr)
        for line in reversed(lines):
            head = line.split(":", 1)[0]
            if head.endswith(("Error", "Exception", "Exit")) and " " not in head:
                return line[:300]
        return lines[-1][:300] if lines else ""

    @property
    def returncode(self) -> int | None:
        """The exit code once the child ended, else None."""
        return self._process.poll() if self._process is not None else None

    def rss_bytes(self) -> int:
        """The child's resident memory (0 if unknown)."""
        pid = self.pid
        if pid is None:
            return 0
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            return 0
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; the port file is removed."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=grace_s)
            except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self._port_file.unlink(missing_ok=True)
        self.port = None
