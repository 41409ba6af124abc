"""Getting the packages into a new environment: through the shared wheelhouse, or a lock.

From requirements (pip): first from the wheelhouse alone, without the index (everything
may be there already); if something is missing, ``pip wheel`` fills the wheelhouse
(downloading only the wheels it lacks) and the install runs from it, still without the
index. With uv, uv's own shared cache plays that part. Every pip install writes its
report, from which the lock is read.

From a published lock: on the platform it was built on, its wheels (fetched from the
artifact store into the wheelhouse) are installed by hash, without the network; else, or
if a wheel cannot be had, the same pinned versions are installed from requirements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from packaging.requirements import Requirement

from modelyard.deployments.env.installers import Commands
from modelyard.deployments.env.lock import BuiltLock, hashed_lines
from modelyard.deployments.env.packages import installed_packages
from modelyard.deployments.env.wheelhouse import Wheelhouse
from modelyard.storage.environments import EnvironmentLock

LogLine = Callable[[str], None]
Must = Callable[[list[str]], None]
"""Runs a command; raises the build's error if it fails."""
Attempt = Callable[[list[str]], bool]
"""Runs a command; True if it succeeded (a failure is left to the caller)."""
Fetch = Callable[[EnvironmentLock, Wheelhouse], bool]
"""Copies a lock's wheels into the wheelhouse; False if one cannot be had."""

REPORT = "install-report.json"


class Installation:
    """Installs packages into the environment at ``venv`` with ``commands``."""

    def __init__(
        self,
        commands: Commands,
        venv: Path,
        wheelhouse: Wheelhouse,
        *,
        must: Must,
        attempt: Attempt,
        emit: LogLine,
    ) -> None:
        self._commands = commands
        self._venv = venv
        self._wheelhouse = wheelhouse
        self._must = must
        self._attempt = attempt
        self._emit = emit

    def from_requirements(self, lines: Sequence[str]) -> BuiltLock:
        """Install ``lines`` (pip requirements) and return what was installed."""
        wanted = self._write("to-install.txt", lines)
        commands, report = self._commands, self._venv / REPORT
        if commands.tool == "uv":
            self._must(commands.install(wanted))
            return BuiltLock.from_packages(installed_packages(self._venv / "bin" / "python"))
        offline = self._write("offline-requirements.txt", _without_urls(lines))
        if any(self._wheelhouse.path.glob("*.whl")):
            self._emit(f"trying the shared wheel cache {self._wheelhouse.path} alone (no index)")
            with self._wheelhouse.reading() as wheels:
                if self._attempt(commands.install(offline, wheelhouse=wheels, report=report)):
                    return BuiltLock.from_report(report)
            self._emit("the wheel cache lacks some of them: the index gives what is missing")
        fill = commands.fill(wanted, self._wheelhouse.path)
        assert fill is not None
        with self._wheelhouse.writing():
            self._must(fill)
        with self._wheelhouse.reading() as wheels:
            self._must(commands.install(offline, wheelhouse=wheels, report=report))
        return BuiltLock.from_report(report)

    def from_lock(self, lock: EnvironmentLock, *, same_platform: bool, fetch: Fetch) -> BuiltLock:
        """Install what ``lock`` pins: its very wheels on its platform, else its versions."""
        commands = self._commands
        if same_platform and lock.wheels and commands.tool == "pip":
            self._emit(
                f"installing the {len(lock.wheels)} published wheels by hash, without the index"
            )
            if fetch(lock, self._wheelhouse):
                hashed = self._write("hashed-lock.txt", hashed_lines(lock.pins, lock.wheels))
                report = self._venv / REPORT
                with self._wheelhouse.reading() as wheels:
                    install = commands.install(
                        hashed, wheelhouse=wheels, report=report, hashes=True
                    )
                    if self._attempt(install):
                        return BuiltLock.from_report(report)
            self._emit("the published wheels could not be installed: installing the same versions")
        else:
            where = "" if same_platform else f" (it was built on {lock.platform})"
            self._emit(f"installing the published lock's {len(lock.pins)} versions{where}")
        return self.from_requirements(lock.pins)

    def _write(self, name: str, lines: Sequence[str]) -> Path:
        path = self._venv / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path


def _without_urls(lines: Sequence[str]) -> list[str]:
    """The lines as the wheelhouse can satisfy them: ``name @ URL`` becomes ``name`` (the fill
    built its wheel), so an install from the wheelhouse never fetches a URL."""
    out: list[str] = []
    for line in lines:
        req = Requirement(line)
        if req.url:
            req.url = None
        out.append(str(req))
    return out
