"""``ws.environments``: the entry-script environments built here and those published to
the artifact store by any replica, which endpoints use them, and pruning the ones nobody
needs here.

An endpoint uses an environment when its current spec (its row's options) declares
requirements whose digest, for that environment's python, is the environment's digest.
"""

from __future__ import annotations

import builtins
import contextlib
import sys
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from modelyard.deployments.entry.spec import is_script
from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.deployments.env.inventory import CachedEnvironment, scan
from modelyard.deployments.env.prune import DEFAULT_AGE, parse_age, prune
from modelyard.deployments.env.requirements import Requirements
from modelyard.deployments.env.sharing import SharedEnvironments, platform_of
from modelyard.errors import InvalidInput
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.storage.environments import EnvironmentLock


@dataclass(frozen=True)
class Published:
    """Where a replica published an environment: its lock and wheels in the artifact store."""

    store: str
    platform: str
    by: str
    at: datetime
    pins: int
    wheels: int
    wheel_bytes: int


@dataclass(frozen=True)
class Environment:
    """An environment as the SDK shows it (times in UTC): built here (``path`` holds it),
    published to the artifact store (``published``), or both."""

    digest: str
    short: str
    path: Path
    status: str  # ready | building | incomplete | published (in the store, not built here)
    size_bytes: int
    python: str | None
    created_at: datetime
    last_used_at: datetime
    requirements: tuple[str, ...]
    endpoints: tuple[str, ...]  # the endpoints whose current spec uses it
    published: Published | None = None

    @property
    def where(self) -> str:
        """``here``, ``store`` or ``here + store``."""
        here = self.status != "published"
        return "here + store" if here and self.published else "here" if here else "store"


@dataclass(frozen=True)
class KeptEnvironment:
    """An environment ``prune`` kept, and why: ``in use``, ``being built``, ``used recently``."""

    environment: Environment
    reason: str


@dataclass(frozen=True)
class PruneReport:
    """What ``prune`` removed (in a dry run: would remove), what it kept, the space freed."""

    removed: tuple[Environment, ...]
    kept: tuple[KeptEnvironment, ...]
    freed_bytes: int
    dry_run: bool
    older_than: timedelta


class Environments:
    """``ws.environments``: list and prune the environment cache (``[serve] env_cache``)."""

    def __init__(
        self, root: Path, store: EndpointStore, shared: SharedEnvironments | None = None
    ) -> None:
        self.root = root
        self.shared = shared
        self._store = store

    def cache(self) -> EnvironmentCache:
        """The builder of this replica's environments, sharing them through the store."""
        return EnvironmentCache(self.root, shared=self.shared)

    def list(self) -> builtins.list[Environment]:
        """Every environment built here (least recently used first), then those published
        by other replicas and not built here, each with its endpoints."""
        found = scan(self.root)
        locks = self.shared.locks.published() if self.shared else []
        users = self._users(found, {lock.python for lock in locks})
        here = platform_of(sys.executable)
        best: dict[str, EnvironmentLock] = {}
        for lock in locks:  # per digest: this platform's lock, else the first published
            if lock.digest not in best or lock.platform == here:
                best[lock.digest] = lock
        views = [_view(env, users, self._published(best.get(env.digest))) for env in found]
        built = {env.digest for env in found}
        views += [self._remote(lock, users) for lock in best.values() if lock.digest not in built]
        return views

    def prune(
        self,
        *,
        older_than: str | timedelta = DEFAULT_AGE,
        dry_run: bool = False,
        only: Collection[str] | None = None,
    ) -> PruneReport:
        """Remove environments no endpoint uses, not used for ``older_than`` (``"7d"``,
        ``"12h"`` or a timedelta) and not being built; ``dry_run`` only reports them.
        ``only`` limits it to those digests. Raises ``InvalidInput`` for a bad age."""
        age = parse_age(older_than)
        users = self._users(scan(self.root))
        result = prune(
            self.root,
            in_use={digest for digest, names in users.items() if names},
            older_than=age,
            dry_run=dry_run,
            only=only,
        )
        return PruneReport(
            removed=tuple(_view(env, users) for env in result.removed),
            kept=tuple(KeptEnvironment(_view(env, users), why.value) for env, why in result.kept),
            freed_bytes=result.freed_bytes,
            dry_run=dry_run,
            older_than=age,
        )

    def _published(self, lock: EnvironmentLock | None) -> Published | None:
        if lock is None or self.shared is None:
            return None
        return Published(
            store=self.shared.location,
            platform=lock.platform,
            by=lock.published_by,
            at=lock.published_at,
            pins=len(lock.pins),
            wheels=len(lock.wheels),
            wheel_bytes=lock.wheel_bytes,
        )

    def _remote(self, lock: EnvironmentLock, users: dict[str, builtins.list[str]]) -> Environment:
        return Environment(
            digest=lock.digest,
            short=lock.digest[:12],
            path=self.root / lock.digest,
            status="published",
            size_bytes=lock.wheel_bytes,
            python=lock.python,
            created_at=lock.published_at,
            last_used_at=lock.published_at,
            requirements=lock.requirements,
            endpoints=tuple(sorted(users.get(lock.digest, ()))),
            published=self._published(lock),
        )

    def _users(
        self, found: Iterable[CachedEnvironment], more_pythons: Iterable[str] = ()
    ) -> dict[str, builtins.list[str]]:
        """Endpoint names by environment digest, for every python the cache was built with."""
        pythons = {env.python for env in found if env.python} | set(more_pythons)
        pythons.add("{}.{}.{}".format(*sys.version_info[:3]))
        users: dict[str, builtins.list[str]] = defaultdict(list)
        for record in self._store.list():
            for digest in _digests(record, pythons):
                users[digest].append(record.name)
        return users


def _digests(record: EndpointRecord, pythons: Iterable[str]) -> set[str]:
    declared = record.options.get("environment") if is_script(record.options) else None
    if not declared:
        return set()
    with contextlib.suppress(InvalidInput):  # a row that cannot be built uses no environment
        requirements = Requirements.from_dict(declared)
        return {requirements.digest_for(python) for python in pythons}
    return set()


def _view(
    env: CachedEnvironment, users: dict[str, builtins.list[str]], published: Published | None = None
) -> Environment:
    return Environment(
        digest=env.digest,
        short=env.short,
        path=env.path,
        status=env.status.value,
        size_bytes=env.size_bytes,
        python=env.python,
        created_at=env.created_at,
        last_used_at=env.last_used_at,
        requirements=env.requirements,
        endpoints=tuple(sorted(users.get(env.digest, ()))),
        published=published,
    )
