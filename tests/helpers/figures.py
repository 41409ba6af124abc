"""The reliability battery's figures: each test records one row (what it did, under
which load and faults, what came out); the session prints them as a table and, for
``make test-reliability``, writes docs/reliability.md.

Rows travel through a folder named by ``MODELYARD_FIGURES`` (set by the controlling
pytest process before its workers start), one JSON file per row, so that the table is
whole under pytest-xdist too.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

FOLDER_ENV = "MODELYARD_FIGURES"
FULL = os.environ.get("MODELYARD_RELIABILITY", "").lower() == "full"


def scale(short: float, full: float) -> float:
    """``full`` in ``make test-reliability``, ``short`` inside ``make test``."""
    return full if FULL else short


@dataclass(frozen=True)
class Row:
    """One battery test's line in the table."""

    test: str
    load: str
    faults: str
    result: str
    passed: bool


def record(test: str, *, load: str, faults: str, result: str, passed: bool) -> None:
    """Record a row and print it (visible with ``-s`` and in the session's table)."""
    row = Row(test, load, faults, result, passed)
    print(f"[figures] {test}: {load} | {faults} | {result}")
    folder = os.environ.get(FOLDER_ENV)
    if folder:
        path = Path(folder) / f"{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(asdict(row)))


def rows(folder: Path) -> list[Row]:
    """The rows recorded in ``folder``, by test name."""
    found = [Row(**json.loads(p.read_text())) for p in folder.glob("*.json")]
    return sorted(found, key=lambda r: r.test)


def table(found: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| Test | Load | Faults | Result |", "|---|---|---|---|"]
    for row in found:
        mark = "pass" if row.passed else "**FAIL**"
        lines.append(f"| {row.test} | {row.load} | {row.faults} | {mark}: {row.result} |")
    return "\n".join(lines)


def report(found: list[Row]) -> str:
    """docs/reliability.md: how it was produced, then the table."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Reliability battery\n\n"
        "Produced by `make test-reliability` (the full battery, `tests/reliability/`, with\n"
        "`MODELYARD_RELIABILITY=full`); `make test` runs the same tests at a shorter scale.\n"
        "Each row is one test: the load it ran under, the faults it injected, and what came\n"
        "out. Every figure below was measured by the run that wrote this page.\n\n"
        f"Run: {when}, {os.cpu_count()} cores, Python {platform.python_version()}.\n\n"
        f"{table(found)}\n"
    )
