"""docs/architecture.md names the owner of every table, and every owner it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.storage.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
OWNERS = DOC.split("## Who owns each table", 1)[1]


def test_every_table_has_a_written_owner() -> None:
    rows = [line for line in OWNERS.splitlines() if line.startswith("| `")]
    named = {t for row in rows for t in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert sorted(set(metadata.tables) - named) == []


def test_every_owner_module_exists() -> None:
    modules = set(re.findall(r"`((?:storage|registry)/\w+\.py)`", OWNERS))
    assert modules
    missing = [m for m in sorted(modules) if not (ROOT / "src" / "modelyard" / m).is_file()]
    assert missing == []
