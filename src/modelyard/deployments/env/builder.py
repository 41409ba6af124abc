"""Virtual environments built once per requirements digest, shared by threads and processes.

``<root>/<digest>/`` is the environment. While it is built, ``<root>/.<digest>.building.log``
receives every line the package manager prints; once it is ready the log moves to
``<root>/<digest>/build.log`` and ``<root>/<digest>/.complete`` is written last, so an
environment without that marker is never used. A failed build removes the folder and
keeps its log as ``<root>/<digest>.failed.log``. Builders and waiters serialise on
``fcntl.flock`` of ``<root>/.<digest>.lock``, which the kernel releases if a builder dies;
the pruner takes the same lock. Every hand-out touches ``<root>/<digest>/.last-used``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelyard.deployments.env.buildlog import failure, header, published_line, stopped
from modelyard.deployments.env.install import Installation
from modelyard.deployments.env.installers import Installer, commands, output, run
from modelyard.deployments.env.markers import COMPLETE, lock_path, mark_used
from modelyard.deployments.env.packages import installed_packages
from modelyard.deployments.env.requirements import Requirements
from modelyard.deployments.env.sharing import SharedEnvironments, platform_of
from modelyard.deployments.env.wheelhouse import Wheelhouse

LogLine = Callable[[str], None]


def _ignore(line: str) -> None:
    return None


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready environment: its interpreter, folder, installed distributions and build log."""

    python: Path
    path: Path
    reused: bool
    packages: dict[str, str]
    log_path: Path
    digest: str


class EnvironmentCache:
    """Builds each distinct :class:`Requirements` once under ``root`` and hands it out after.

    ``installer="auto"`` uses ``uv`` when it is on PATH, else the venv module and pip.
    pip runs with the server's pip configuration (``pip.conf``, ``PIP_*``); uv is given
    the index, find-links and constraint settings of that configuration. Builds share
    the wheelhouse ``<root>/wheels`` (see ``deployments.env.install``). With ``shared``,
    a build first looks for the environment another replica published, and publishes
    what it built.
    """

    def __init__(
        self,
        root: Path,
        *,
        base_python: str = sys.executable,
        timeout_s: float = 900.0,
        installer: Installer = "auto",
        shared: SharedEnvironments | None = None,
    ) -> None:
        self.root = Path(root)
        self.base_python = str(base_python)
        self.timeout_s = timeout_s
        self.shared = shared
        self.wheelhouse = Wheelhouse(self.root)
        self._installer = installer
        self._version: str | None = None
        self._platform: str | None = None

    @property
    def python_version(self) -> str:
        """The base interpreter's version, ``3.11.7``."""
        if self._version is None:
            if self.base_python == sys.executable:
                self._version = "{}.{}.{}".format(*sys.version_info[:3])
            else:
                out = output(
                    [self.base_python, "-c", "import platform; print(platform.python_version())"]
                )
                self._version = out.strip()
        return self._version

    @property
    def platform(self) -> str:
        """The base interpreter's implementation and platform, which its wheels need."""
        if self._platform is None:
            self._platform = platform_of(self.base_python)
        return self._platform

    def path_for(self, requirements: Requirements) -> Path:
        """The folder that holds (or will hold) the environment for ``requirements``."""
        return self.root / requirements.digest_for(self.python_version)

    def ensure(
        self, requirements: Requirements, log: LogLine = _ignore, *, timeout_s: float | None = None
    ) -> BuiltEnvironment:
        """The environment for ``requirements``, built now unless a complete one exists.

        Concurrent callers wait for one build and reuse it. Raises
        ``EnvironmentBuildFailed`` with the package manager's last lines when the build
        fails or outlasts ``timeout_s``; nothing of the failed environment is left.
        Records the use (``.last-used``) so that ``prune`` keeps it a while.
        """
        digest = requirements.digest_for(self.python_version)
        path = self.root / digest
        mark_used(path)  # before the check: a pruner that looks after this keeps it
        found = _complete(path, digest)
        if found is None:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._locked(digest, log):
                found = _complete(path, digest)
                if found is None:
                    built = self._build(requirements, digest, timeout_s or self.timeout_s, log)
                    mark_used(path)
                    return built
        log(f"reusing environment {digest[:12]} at {path}")
        return found

    def build_log(self, requirements: Requirements) -> str:
        """The build log of ``requirements``' environment: done, in progress or failed; else ""."""
        digest = requirements.digest_for(self.python_version)
        for candidate in (
            self.root / digest / "build.log",
            self.root / f".{digest}.building.log",
            self.root / f"{digest}.failed.log",
        ):
            try:
                return candidate.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
        return ""

    @contextmanager
    def _locked(self, digest: str, log: LogLine) -> Iterator[None]:
        with open(lock_path(self.root, digest), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"environment {digest[:12]} is being built by another caller; waiting for it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(
        self, requirements: Requirements, digest: str, timeout_s: float, log: LogLine
    ) -> BuiltEnvironment:
        path = self.root / digest
        live, failed = self.root / f".{digest}.building.log", self.root / f"{digest}.failed.log"
        failed.unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)  # a half environment of a killed builder
        started = time.monotonic()
        out = open(live, "w", encoding="utf-8", buffering=1)  # noqa: SIM115  # closed below

        def emit(line: str) -> None:
            out.write(line + "\n")
            log(line)

        try:
            for line in header(requirements, digest, self.base_python, self.python_version):
                emit(line)
            python = path / "bin" / "python"
            cmds = commands(self._installer, self.base_python, path)
            deadline = started + timeout_s

            def must(step: list[str]) -> None:
                ran = run(step, cwd=self.root, deadline=deadline, emit=emit)
                if ran.expired or ran.code != 0:
                    raise stopped(requirements, digest, step, ran, timeout_s, emit, failed)

            def attempt(step: list[str]) -> bool:
                ran = run(step, cwd=self.root, deadline=deadline, emit=emit)
                if ran.expired:
                    raise stopped(requirements, digest, step, ran, timeout_s, emit, failed)
                return ran.code == 0

            must(cmds.create)
            lines = "".join(f"{r}\n" for r in requirements.lines)
            (path / "requirements.txt").write_text(lines, encoding="utf-8")
            if requirements.lines:
                installation = Installation(
                    cmds, path, self.wheelhouse, must=must, attempt=attempt, emit=emit
                )
                self._install(requirements, digest, installation, emit)
            packages = installed_packages(python)
            took = time.monotonic() - started
            emit(f"environment ready in {took:.1f} s with {len(packages)} distributions")
        except BaseException as exc:
            if isinstance(exc, OSError):
                out.write(f"build failed: {exc}\n")
            out.close()
            shutil.rmtree(path, ignore_errors=True)
            live.replace(failed)
            if isinstance(exc, OSError):
                why = f"the build could not run: {exc}"
                raise failure(requirements, digest, why, [], failed) from exc
            raise
        out.close()
        live.replace(path / "build.log")
        marker = {
            "digest": digest,
            "python": self.python_version,
            "packages": packages,
            "platform": self.platform,
            "requirements": requirements.to_dict(),
            "seconds": round(time.monotonic() - started, 2),
        }
        (path / ".complete.tmp").write_text(json.dumps(marker, indent=1, sort_keys=True))
        (path / ".complete.tmp").replace(path / COMPLETE)
        return BuiltEnvironment(python, path, False, packages, path / "build.log", digest)

    def _install(
        self, requirements: Requirements, digest: str, installation: Installation, emit: LogLine
    ) -> None:
        """Install the packages (from a published lock if there is one), write the lock
        as ``lock.txt`` and publish it unless this platform's was used."""
        found = self.shared.find(digest, self.platform) if self.shared else None
        if found is not None and self.shared is not None:
            emit(published_line(found, self.shared.location))
            shared = self.shared
            built = installation.from_lock(
                found,
                same_platform=found.platform == self.platform,
                fetch=lambda lock, wheels: shared.fetch(lock, wheels, emit),
            )
        else:
            built = installation.from_requirements(requirements.lines)
        path = self.root / digest
        (path / "lock.txt").write_text("".join(f"{p}\n" for p in built.pins), encoding="utf-8")
        if self.shared is not None and (found is None or found.platform != self.platform):
            self.shared.publish(
                digest,
                self.platform,
                python=self.python_version,
                requirements=requirements.lines,
                built=built,
                emit=emit,
            )


def _complete(path: Path, digest: str) -> BuiltEnvironment | None:
    python = path / "bin" / "python"
    try:
        marker = json.loads((path / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not python.exists() or not isinstance(marker.get("packages"), dict):
        return None
    packages = {str(k): str(v) for k, v in marker["packages"].items()}
    return BuiltEnvironment(python, path, True, packages, path / "build.log", digest)
