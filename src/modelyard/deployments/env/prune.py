"""Removing cached environments that no endpoint uses and nobody used for a while.

An environment is removed only if it is not in ``in_use``, its lock is free (no build,
no other pruner) and its last use is older than the threshold, all checked again under
its build lock, which is held until it is gone. It is first renamed out of the builder's
way (``.<digest>.removing``), so a deployment arriving meanwhile builds it afresh instead
of finding half of it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from modelyard.deployments.env.inventory import CachedEnvironment, EnvironmentStatus, read, scan
from modelyard.deployments.env.markers import DIGEST, try_lock
from modelyard.errors import InvalidInput, ModelyardError

DEFAULT_AGE = timedelta(days=7)
_AGE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|min|h|d|w)")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


class KeptBecause(StrEnum):
    """Why ``prune`` left an environment in place."""

    IN_USE = "in use"
    BUILDING = "being built"
    RECENT = "used recently"


@dataclass(frozen=True)
class PruneResult:
    """What ``prune`` removed (or, in a dry run, would remove) and what it kept, and why."""

    removed: tuple[CachedEnvironment, ...]
    kept: tuple[tuple[CachedEnvironment, KeptBecause], ...]
    dry_run: bool

    @property
    def freed_bytes(self) -> int:
        """The disk space the removed environments took."""
        return sum(env.size_bytes for env in self.removed)


def parse_age(text: str | timedelta) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` (or a timedelta) as a timedelta; ``InvalidInput``
    (code ``bad_duration``) for anything else."""
    if isinstance(text, timedelta):
        if text < timedelta(0):
            raise InvalidInput(f"older_than must not be negative: {text}", code="bad_duration")
        return text
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"{text!r} is not an age: give a number and a unit, such as 30m, 12h, 7d or 2w",
            code="bad_duration",
        )
    return timedelta(seconds=float(match["n"]) * _UNIT_S[match["unit"]])


def prune(
    root: Path,
    *,
    in_use: Collection[str],
    older_than: timedelta = DEFAULT_AGE,
    dry_run: bool = False,
    only: Collection[str] | None = None,
    now: datetime | None = None,
) -> PruneResult:
    """Remove the environments under ``root`` whose digest is not in ``in_use``, that are
    not being built and were last used more than ``older_than`` before ``now``.

    ``only`` limits it to those digests (what a dry run showed and a person confirmed).
    With ``dry_run`` nothing is touched, not even a lock file.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    removed: list[CachedEnvironment] = []
    kept: list[tuple[CachedEnvironment, KeptBecause]] = []
    for env in scan(root):
        if only is not None and env.digest not in only:
            continue
        why = _keep(env, in_use, cutoff)
        if why is None and not dry_run:
            why = _remove(root, env.digest, in_use, cutoff)
        if why is None:
            removed.append(env)
        else:
            kept.append((env, why))
    if not dry_run:
        _sweep_leftovers(root)
    return PruneResult(tuple(removed), tuple(kept), dry_run)


def _keep(env: CachedEnvironment, in_use: Collection[str], cutoff: datetime) -> KeptBecause | None:
    if env.digest in in_use:
        return KeptBecause.IN_USE
    if env.status is EnvironmentStatus.BUILDING:
        return KeptBecause.BUILDING
    if env.last_used_at > cutoff:
        return KeptBecause.RECENT
    return None


def _remove(
    root: Path, digest: str, in_use: Collection[str], cutoff: datetime
) -> KeptBecause | None:
    with try_lock(root, digest) as held:
        if not held:
            return KeptBecause.BUILDING
        again = read(root, digest)  # a deployment may have taken it since the scan
        if again is None:
            return None
        why = _keep(again, in_use, cutoff)
        if why is not None:
            return why
        doomed = root / f".{digest}.removing"
        shutil.rmtree(doomed, ignore_errors=True)
        try:
            (root / digest).rename(doomed)
        except OSError as exc:
            raise ModelyardError(
                f"cannot remove the environment {root / digest}: {exc.strerror or exc}"
            ) from None
        shutil.rmtree(doomed, ignore_errors=True)
    return None


def _sweep_leftovers(root: Path) -> None:
    """Finish removals a killed pruner left half done (``.<digest>.removing``)."""
    for path in root.glob(".*.removing"):
        digest = path.name[1 : -len(".removing")]
        if DIGEST.fullmatch(digest) and path.is_dir() and not path.is_symlink():
            with try_lock(root, digest) as held:
                if held:
                    shutil.rmtree(path, ignore_errors=True)


def age_text(age: timedelta) -> str:
    """``7d``, ``12h``, ``30m``, ``45s``: the largest whole unit."""
    seconds = int(age.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    return f"{seconds}s"
