"""The package manager's command lines (uv, or venv + pip) and a streamed, time-boxed run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelyard.errors import ConfigError

Installer = Literal["auto", "uv", "pip"]
TAIL_LINES = 20
# Variables of the server's own process that must not leak into a build.
_UNSET = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX")
_UV_FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit code, last non-blank lines, and whether it was killed."""

    code: int
    tail: list[str]
    expired: bool


@dataclass(frozen=True)
class Commands:
    """The command lines of one environment build at ``path``.

    ``tool`` is ``pip`` or ``uv``. With pip, packages come through the shared wheelhouse:
    :meth:`fill` puts the wheels of a requirements file there (downloading only what is
    missing), :meth:`install` installs from it with ``--no-index``. uv keeps its own
    shared cache, so with uv :meth:`install` asks the index and :meth:`fill` is None.
    """

    tool: str
    create: list[str]
    pip: list[str]  # how pip runs: the server's, or the environment's own
    target: list[str]  # the options that make that pip install into the environment

    def install(
        self,
        requirements: Path,
        *,
        wheelhouse: Path | None = None,
        report: Path | None = None,
        hashes: bool = False,
    ) -> list[str]:
        """Install ``requirements`` into the environment; from ``wheelhouse`` alone if given
        (no index), with pip's JSON ``report`` of what it installed, checking ``hashes``."""
        offline = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse else []
        if self.tool == "uv":
            return [*self.pip, "install", *self.target, *offline, "-r", str(requirements)]
        return [
            *self.pip,
            *self.target,
            "install",
            "--no-input",
            "--progress-bar",
            "off",
            *offline,
            *(["--report", str(report)] if report else []),
            *(["--require-hashes"] if hashes else []),
            "-r",
            str(requirements),
        ]

    def fill(self, requirements: Path, wheelhouse: Path) -> list[str] | None:
        """``pip wheel`` of ``requirements`` into ``wheelhouse``; None with uv."""
        if self.tool == "uv":
            return None
        quiet = ["--no-input", "--progress-bar", "off"]
        return [*self.pip, "wheel", *quiet, "--wheel-dir", str(wheelhouse), "-r", str(requirements)]


def commands(installer: Installer, base_python: str, path: Path) -> Commands:
    """How to create the environment at ``path`` and install into it. ``auto`` is uv when
    it is on PATH, else pip."""
    python = str(path / "bin" / "python")
    uv = shutil.which("uv") if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        raise ConfigError("the environment installer is set to uv, but uv is not on PATH")
    if uv is not None:
        return Commands(
            "uv",
            [uv, "venv", "--python", base_python, str(path)],
            [uv, "pip"],
            ["--python", python, *uv_index_options(base_python)],
        )
    if pip_version(base_python) >= (22, 3):
        # The server's own (newer) pip installs into a pip-less venv: ~3 s faster.
        return Commands(
            "pip",
            [base_python, "-m", "venv", "--without-pip", str(path)],
            [base_python, "-m", "pip"],
            ["--python", python],
        )
    return Commands("pip", [base_python, "-m", "venv", str(path)], [python, "-m", "pip"], [])


def uv_index_options(base_python: str) -> list[str]:
    """pip's configured indexes, find-links and constraints as uv flags (uv does not read
    ``pip.conf`` or ``PIP_*``), so that both installers see the same packages."""
    try:
        listed = output([base_python, "-m", "pip", "config", "list"])
    except (OSError, subprocess.SubprocessError):
        return []
    options: list[str] = []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        flag = _UV_FLAGS.get(key.rsplit(".", 1)[-1])
        if flag is None:
            continue
        for part in " ".join(shlex.split(value)).split():
            pair = [flag, part]
            if not any(options[i : i + 2] == pair for i in range(0, len(options), 2)):
                options += pair
    if "--extra-index-url" in options:
        # pip picks the best version across all its indexes; uv by default stops at the
        # first index that knows the name, which breaks a local index + PyPI setup.
        options += ["--index-strategy", "unsafe-best-match"]
    return options


def pip_version(python: str) -> tuple[int, ...]:
    """``(major, minor)`` of the pip that ``python -m pip`` runs, ``(0,)`` if there is none."""
    try:
        found = re.match(r"pip (\d+)\.(\d+)", output([python, "-m", "pip", "--version"]))
    except (OSError, subprocess.SubprocessError):
        return (0,)
    return (int(found[1]), int(found[2])) if found else (0,)


def run(command: list[str], *, cwd: Path, deadline: float, emit: Callable[[str], None]) -> Ran:
    """Run ``command``, passing each output line to ``emit``; kill its whole process group
    at ``deadline`` (a ``time.monotonic()`` value)."""
    emit("$ " + shlex.join(command))
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env["PYTHONUNBUFFERED"] = "1"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(  # noqa: S603  # a fixed command line, no shell
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        cwd=cwd,
        start_new_session=True,  # its own process group, killed as one
    )
    expired = threading.Event()

    def kill() -> None:
        if proc.poll() is None:
            expired.set()
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), kill)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\r\n")
            if line.strip():
                tail.append(line[:400])
            emit(line)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # emit raised: stop the build too
            kill()
            proc.wait()
    return Ran(code, list(tail), expired.is_set())


def tool_name(command: list[str]) -> str:
    """``uv``, ``python -m pip``, ``python -m venv``: how a log line names the command."""
    name = Path(command[0]).name
    return f"{name} -m {command[2]}" if command[1:2] == ["-m"] else name


def output(command: list[str]) -> str:
    """The stdout of a short command; raises if it fails."""
    return subprocess.run(  # noqa: S603  # a fixed command line, no shell
        command, capture_output=True, text=True, check=True, timeout=60
    ).stdout
