"""Every TOML example in the docs parses, and every training it declares is valid."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from modelyard.training.spec import TrainingSpec

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCKS = [
    (page.name, block)
    for page in sorted(DOCS.glob("*.md"))
    for block in re.findall(r"```toml\n(.*?)```", page.read_text(), re.S)
]


@pytest.mark.parametrize(
    ("page", "block"), BLOCKS, ids=[f"{p}#{i}" for i, (p, _) in enumerate(BLOCKS)]
)
def test_toml_examples_parse_and_trainings_validate(page: str, block: str, tmp_path: Path) -> None:
    document = tomllib.loads(block)
    for name, declaration in document.get("trainings", {}).items():
        TrainingSpec.parse(name, declaration, tmp_path)
