"""A CLI that starts at once: ``modelyard --help`` and ``import modelyard`` load no heavy
library (scikit-learn, pandas, SQLAlchemy, FastAPI...); a command imports what it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {
    "sklearn", "xgboost", "scipy", "pandas", "pyarrow", "numpy", "sqlalchemy", "alembic",
    "fastapi", "starlette", "uvicorn", "onnxruntime", "skops", "httpx", "jinja2",
}  # fmt: skip
# What --help may load beyond the standard library: the CLI framework and its terminal.
CLI_FRAMEWORK = {"typer", "rich", "click", "shellingham", "annotated_doc", "pygments"}
CLI_FRAMEWORK |= {"markdown_it", "mdurl", "typing_extensions", "attr"}
CLI_FRAMEWORK |= {"pydantic", "pydantic_core", "annotated_types", "typing_inspection"}  # Typer's

SHOW_MODULES = """
import json, sys
{code}
names = {{m.split(".")[0] for m in sys.modules}} - set(sys.stdlib_module_names)
print(json.dumps(sorted(n for n in names if not n.startswith("_"))))
"""


def loaded_by(code: str) -> set[str]:
    """The top-level packages outside the standard library that ``code`` loads."""
    done = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES.format(code=code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_modelyard_loads_nothing_but_modelyard() -> None:
    assert loaded_by("import modelyard") == {"modelyard"}


def test_the_workspace_is_still_there_when_asked_for() -> None:
    assert {"sqlalchemy", "modelyard"} <= loaded_by("import modelyard; modelyard.Workspace")


@pytest.mark.parametrize("argv", [["--help"], ["models", "--help"], ["train", "--help"]])
def test_help_loads_only_the_cli_framework(argv: list[str]) -> None:
    code = (
        "from modelyard.cli.main import run\n"
        f"sys.argv = ['modelyard', *{argv!r}]\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
    )
    loaded = loaded_by(code)
    assert loaded & HEAVY == set()
    assert loaded - {"modelyard"} <= CLI_FRAMEWORK


def test_models_list_opens_the_registry_without_the_model_libraries(tmp_path: Path) -> None:
    made = [sys.executable, "-m", "modelyard", "init", str(tmp_path)]
    subprocess.run(made, capture_output=True, timeout=120, check=True)
    code = (
        "from modelyard.cli.main import run\n"
        f"sys.argv = ['modelyard', '--workspace', {str(tmp_path)!r}, 'models', 'list']\n"
        "run()\n"
    )
    loaded = loaded_by(code)
    assert "sqlalchemy" in loaded  # it did open the registry
    assert loaded & (HEAVY - {"sqlalchemy"}) == set()
