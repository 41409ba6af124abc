"""Makes the ``azureml`` names of entry scripts importable in this process.

Without the real azureml-core, the shim folder goes first on ``sys.path`` and every
``azureml.*`` name comes from it. With the real azureml-core installed, that one is used,
and only ``azureml.contrib.services.aml_request``/``aml_response`` are aliased to the shim's
modules in ``sys.modules``, as azureml-inference-server-http itself aliases them to its own;
``azureml.monitoring`` (and the ``contrib``/``services`` packages) come from the shim only
when that installation lacks them.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

PARENTS = ("azureml.contrib", "azureml.contrib.services")  # the shim's only where missing
ALIASED = ("azureml.contrib.services.aml_request", "azureml.contrib.services.aml_response")


def _real_package_dirs(name: str, path: list[str] | None) -> list[str]:
    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is None or spec.submodule_search_locations is None:
        return []
    return list(spec.submodule_search_locations)


def real_azureml_core() -> bool:
    """Whether ``azureml.core`` is importable from ``sys.path`` (checked without importing)."""
    for folder in _real_package_dirs("azureml", None):
        if os.path.isfile(os.path.join(folder, "core", "__init__.py")):
            return True
    return False


def _load(shim_dir: str, name: str) -> ModuleType:
    parts = name.split(".")
    base = os.path.join(shim_dir, *parts)
    is_package = os.path.isdir(base)
    path = os.path.join(base, "__init__.py") if is_package else base + ".py"
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[base] if is_package else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module


def install(shim_dir: str) -> str:
    """Make the names importable; returns "shim" or "azureml-core" (which one is used)."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != shim_dir]
    if not real_azureml_core():
        sys.path.insert(0, shim_dir)
        return "shim"
    importlib.import_module("azureml")
    for name in PARENTS:
        if importlib.util.find_spec(name) is None:
            _load(shim_dir, name)
        else:
            importlib.import_module(name)
    for name in ALIASED:
        _load(shim_dir, name)
    if importlib.util.find_spec("azureml.monitoring") is None:
        _load(shim_dir, "azureml.monitoring")
    return "azureml-core"
