"""The package reads by folder: ``__init__`` files hold a docstring and nothing else, and no
module re-exports another's names (``import X as X``), so every name has one home."""

import ast
import re
from pathlib import Path

import modelyard

SRC = Path(modelyard.__file__).parent
# The public surfaces: the SDK's names, and the Azure ML names a notebook imports.
PUBLIC = {"__init__.py", "compat/azureml/__init__.py", "compat/azureml/core/__init__.py"}


def _ours(path: Path) -> bool:
    # the entry-script shim is not a modelyard package: it mimics azureml's own layout
    return "deployments/entry/shim" not in path.relative_to(SRC).as_posix()


def test_init_files_hold_only_a_docstring() -> None:
    crowded = []
    for init in sorted(SRC.rglob("__init__.py")):
        if not _ours(init) or init.relative_to(SRC).as_posix() in PUBLIC:
            continue
        body = ast.parse(init.read_text(encoding="utf-8")).body
        docstring_only = all(isinstance(n, ast.Expr) for n in body)
        if not docstring_only:
            crowded.append(init.relative_to(SRC).as_posix())
    assert crowded == []


def test_no_module_re_exports_a_name_under_its_own_name() -> None:
    pattern = re.compile(r"\bimport (\w+) as \1\b")
    found = [
        f"{p.relative_to(SRC)}: {m.group(0)}"
        for p in sorted(SRC.rglob("*.py"))
        if _ours(p)
        for m in pattern.finditer(p.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_public_surfaces_only_import_and_list() -> None:
    for name in PUBLIC:
        body = ast.parse((SRC / name).read_text(encoding="utf-8")).body
        # imports, __all__, and at most a PEP 562 __getattr__ that imports on first use
        functions = {n.name for n in body if isinstance(n, ast.FunctionDef)}
        kinds = {type(n).__name__ for n in body if not isinstance(n, ast.FunctionDef)}
        assert kinds <= {"Expr", "ImportFrom", "Assign", "If"}, (name, kinds)
        assert functions <= {"__getattr__"}, (name, functions)
