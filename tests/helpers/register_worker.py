"""A child process of tests/reliability/test_kill_registration.py: registers one large
file, maybe to be killed.

    python register_worker.py WORKSPACE_DIR FILE NAME

Prints ``imported`` once modelyard is imported, then waits for a line on stdin (so the
parent can let it import while it checks the registry), opens the workspace, prints
``ready`` right before calling ``register``, and, if nobody killed it meanwhile, one
JSON object: the version it registered and how long ``register`` took.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from modelyard import Workspace


def main() -> int:
    folder, path, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    print("imported", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    with Workspace.from_config(folder) as ws:
        print("ready", flush=True)
        started = time.perf_counter()
        version = ws.models.register(name, path, flavour="files")
        seconds = time.perf_counter() - started
    result = {"version": version.version, "sha256": version.sha256, "seconds": seconds}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
