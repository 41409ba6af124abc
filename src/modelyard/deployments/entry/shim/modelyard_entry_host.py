"""modelyard's entry-script host: serves an Azure ML v1 ``score.py`` like azmlinfsrv.

    python modelyard_entry_host.py --entry-script PATH --port-file FILE [--host H] [--port N]

Environment: AML_APP_ROOT (the app root, also the working directory), AZUREML_MODEL_DIR,
AZUREML_ENTRY_SCRIPT, SERVICE_NAME, SERVICE_VERSION, SCORING_TIMEOUT_MS, AML_CORS_ORIGINS.
Standard library only, Python 3.9+. The host package is loaded from this folder by path,
so that this folder is on ``sys.path`` only when its ``azureml`` shim is wanted.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def _load_host_package(folder: str):  # type: ignore[no-untyped-def]
    package = os.path.join(folder, "_modelyard_entry")
    spec = importlib.util.spec_from_file_location(
        "_modelyard_entry",
        os.path.join(package, "__init__.py"),
        submodule_search_locations=[package],
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_modelyard_entry"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("_modelyard_entry.cli")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.exit(_load_host_package(here).main(here))
