"""What a build says: the head of its log, and the error of a build that failed.

The log opens with the digest, the interpreter and the requirements (with what was
translated or added on the way); a failure names the requirements, why it stopped and
the package manager's last lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from modelyard.deployments.env.installers import Ran, tool_name
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import EnvironmentBuildFailed
from modelyard.storage.environments import EnvironmentLock

LogLine = Callable[[str], None]


def header(
    requirements: Requirements, digest: str, base_python: str, python_version: str
) -> list[str]:
    """The first lines of a build log."""
    lines = [
        f"modelyard environment {digest}",
        f"python: {base_python} ({python_version})",
        "requirements:" if requirements.lines else "requirements: none",
        *(f"  {line}" for line in requirements.lines),
        *(f"note: {note}" for note in requirements.notes),
    ]
    if requirements.python and not _python_fits(requirements.python, python_version):
        lines.append(
            f"note: the environment file asks for python {requirements.python}; "
            f"it is built with this server's python {python_version}"
        )
    return lines


def published_line(found: EnvironmentLock, location: str) -> str:
    """What the log says of a lock another replica published."""
    wheels = f"{len(found.wheels)} wheels in {location}" if found.wheels else "no wheels"
    return (
        f"published by {found.published_by} on {found.platform} at "
        f"{found.published_at:%Y-%m-%d %H:%M:%S} UTC: {len(found.pins)} pinned versions, {wheels}"
    )


def stopped(
    requirements: Requirements,
    digest: str,
    command: list[str],
    ran: Ran,
    timeout_s: float,
    emit: LogLine,
    log_path: Path,
) -> EnvironmentBuildFailed:
    """The error of a build whose ``command`` failed or outlasted ``timeout_s``; the log
    says so too."""
    tool = tool_name(command)
    if ran.expired:
        emit(f"build stopped: it took longer than {timeout_s:g} s")
        why = (
            f"the environment build took longer than {timeout_s:g} s and was stopped while "
            f"`{tool}` ran; pin versions that have wheels or raise the build timeout"
        )
    else:
        emit(f"build failed: {tool} exited with status {ran.code}")
        why = f"{tool} exited with status {ran.code}"
    return failure(requirements, digest, why, ran.tail, log_path)


def failure(
    requirements: Requirements, digest: str, why: str, tail: list[str], log_path: Path
) -> EnvironmentBuildFailed:
    """``EnvironmentBuildFailed`` naming the requirements, ``why``, and the last lines."""
    wanted = ", ".join(requirements.lines) or "no packages"
    message = f"building the environment for {wanted} failed: {why}"
    if tail:
        message += ":\n" + "\n".join(tail)
    return EnvironmentBuildFailed(
        message,
        requirements=list(requirements.lines),
        digest=digest,
        log_tail=tail,
        log_path=str(log_path),
    )


def _python_fits(asked: str, actual: str) -> bool:
    if re.fullmatch(r"\d+(\.\d+)*", asked):
        return actual.split(".")[:2] == asked.split(".")[:2]
    try:
        return SpecifierSet(asked).contains(actual)
    except InvalidSpecifier:
        return False
