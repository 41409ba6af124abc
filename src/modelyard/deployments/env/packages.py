"""Which distributions an interpreter has, and the pre-flight check against a model's."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from modelyard.errors import EnvironmentBuildFailed, PackageMismatch
from modelyard.registry.records import ModelVersion

WATCHED = ("scikit-learn", "xgboost", "numpy")
"""Packages whose major or minor version must match between training and serving."""

# Run inside the environment's interpreter with -I (its own site-packages only); the
# first distribution of a name on sys.path wins, as it would on import.
_LIST = """\
import importlib.metadata as m, json, re
found = {}
for d in m.distributions():
    name = d.metadata["Name"]
    if name:
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), d.version)
print(json.dumps(found))
"""


@functools.cache
def serving_packages() -> dict[str, str]:
    """The watched packages of this very process (what a model endpoint serves with)."""
    found: dict[str, str] = {}
    for name in WATCHED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def installed_packages(python: str | Path) -> dict[str, str]:
    """The distributions ``python`` sees in its own environment: PEP 503 name -> version."""
    try:
        done = subprocess.run(  # noqa: S603  # a fixed command line, no shell
            [str(python), "-I", "-c", _LIST], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildFailed(
            f"cannot list the packages of {python}: {exc}", python=str(python)
        ) from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise EnvironmentBuildFailed(
            f"cannot list the packages of {python}: " + " / ".join(tail), python=str(python)
        )
    listed = json.loads(done.stdout)
    return {str(name): str(version) for name, version in sorted(listed.items())}


def package_mismatches(
    trained: Mapping[str, object],
    serving: Mapping[str, str],
    watched: Iterable[str] = WATCHED,
) -> list[str]:
    """One line per watched package whose major or minor version differs, or that is missing.

    ``scikit-learn: trained with 1.9.1, serving has 1.5.2 (minor differs)``. A package the
    model was not trained with, or with an unreadable version, is not checked.
    """
    had = {canonicalize_name(k): str(v) for k, v in trained.items() if v is not None}
    has = {canonicalize_name(k): str(v) for k, v in serving.items()}
    lines: list[str] = []
    for name in dict.fromkeys(canonicalize_name(w) for w in watched):
        then = had.get(name)
        first = _major_minor(then) if then else None
        if then is None or first is None:
            continue
        now = has.get(name)
        if now is None:
            lines.append(f"{name}: trained with {then}, serving has none (not installed)")
            continue
        second = _major_minor(now)
        if second is None:
            lines.append(f"{name}: trained with {then}, serving has {now} (not comparable)")
        elif first[0] != second[0]:
            lines.append(f"{name}: trained with {then}, serving has {now} (major differs)")
        elif first[1] != second[1]:
            lines.append(f"{name}: trained with {then}, serving has {now} (minor differs)")
    return lines


def check_packages(
    trained: Mapping[str, object],
    serving: Mapping[str, str],
    *,
    override: bool = False,
    watched: Iterable[str] = WATCHED,
) -> list[str]:
    """The mismatches, returned when ``override`` is set (to log them); else raises.

    Raises ``PackageMismatch`` (409) whose message lists each difference, with the
    lines in ``details["mismatches"]``.
    """
    lines = package_mismatches(trained, serving, watched)
    if lines and not override:
        raise PackageMismatch(
            "the model was trained with other package versions than its serving environment "
            "has:\n"
            + "\n".join(f"  {line}" for line in lines)
            + "\npin the trained versions in the environment, or override the package check",
            mismatches=lines,
        )
    return lines


def trained_packages(version: ModelVersion) -> dict[str, str]:
    """The packages a version's lineage records (PEP 503 names -> versions), else ``{}``.

    A training run records ``lineage["packages"]`` (python, modelyard, scikit-learn,
    xgboost, numpy, pandas, scipy, skops, pyarrow); a registered file records only what
    its ``lineage=`` argument gave.
    """
    recorded = version.lineage.get("packages")
    if not isinstance(recorded, Mapping):
        return {}
    return {
        canonicalize_name(str(name)): str(value)
        for name, value in recorded.items()
        if isinstance(value, str | int | float) and str(value)
    }


def _major_minor(text: str) -> tuple[int, int] | None:
    try:
        release = Version(text).release
    except InvalidVersion:
        return None
    return (release[0], release[1] if len(release) > 1 else 0)
