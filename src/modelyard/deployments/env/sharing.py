"""Built environments shared by replicas: a lock row in the registry, wheels in the store.

After a replica builds an environment it publishes what it installed: the pinned versions
and, when every distribution came from a wheel, those wheels as artifact-store blobs
(content-addressed: xgboost's wheel is stored once, whatever number of environments use
it). The next replica to need the same requirements on the same platform installs those
very wheels, checked by sha256, without the package index; on another platform it installs
the same versions from its index.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence

from modelyard.deployments.env.lock import BuiltLock
from modelyard.deployments.env.wheelhouse import Wheelhouse
from modelyard.errors import ArtifactError, ModelyardError
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.environments import EnvironmentLock, EnvironmentLockStore, LockedWheel

LogLine = Callable[[str], None]
_PLATFORM = "import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())"


def platform_of(python: str) -> str:
    """Where wheels built for ``python`` install: ``cpython-311 linux-x86_64``."""
    if python == sys.executable:
        return f"{sys.implementation.cache_tag} {sysconfig.get_platform()}"
    done = subprocess.run(  # noqa: S603  # a fixed command line, no shell
        [python, "-c", _PLATFORM], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


class SharedEnvironments:
    """Publishes built environments to, and finds them in, the registry and artifact store."""

    def __init__(
        self, store: ArtifactStore, locks: EnvironmentLockStore, replica: str | None = None
    ) -> None:
        self.store = store
        self.locks = locks
        self.replica = replica or socket.gethostname()

    @property
    def location(self) -> str:
        """The artifact store the wheels live in."""
        return self.store.location

    def find(self, digest: str, platform: str) -> EnvironmentLock | None:
        """The published lock of ``digest`` (this platform's if there is one), or None."""
        return self.locks.find(digest, platform)

    def fetch(self, lock: EnvironmentLock, wheelhouse: Wheelhouse, emit: LogLine) -> bool:
        """Copy the wheels of ``lock`` the wheelhouse lacks from the store, each checked by
        sha256; False (saying why) if one is missing or altered there."""
        with wheelhouse.writing():
            for wheel in lock.wheels:
                if wheelhouse.holds(wheel.file, wheel.sha256):
                    continue
                try:
                    data = self.store.read_bytes(wheel.sha256, expected_size=wheel.size)
                except ArtifactError as exc:
                    emit(f"published wheel {wheel.file} cannot be used: {exc.message}")
                    return False
                wheelhouse.put(wheel.file, data)
                emit(f"fetched {wheel.file} ({wheel.size} bytes) from {self.location}")
        return True

    def publish(
        self,
        digest: str,
        platform: str,
        *,
        python: str,
        requirements: Sequence[str],
        built: BuiltLock,
        emit: LogLine,
    ) -> EnvironmentLock | None:
        """Store the wheels (when the lock has one per distribution) and record the lock.
        A store or database that fails leaves the environment usable here: it is logged."""
        try:
            wheels = []
            for path in built.wheels if built.complete else ():
                stored = self.store.put_file(path)  # hashed as it is copied: one read
                wheels.append(LockedWheel(path.name, stored.sha256, stored.size))
            kept = self.locks.publish(
                digest,
                platform,
                python=python,
                requirements=requirements,
                pins=built.pins,
                wheels=wheels,
                by=self.replica,
            )
        except (ModelyardError, OSError) as exc:
            emit(f"could not publish the environment (it is used here all the same): {exc}")
            return None
        size = kept.wheel_bytes / 1e6
        emit(
            f"published the lock ({len(kept.pins)} distributions) and {len(kept.wheels)} wheels "
            f"({size:.1f} MB) to {self.location}"
        )
        return kept
