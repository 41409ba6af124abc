"""Reference programs that must not share modelyard's environment (Microsoft's inference
server, MLflow's client), each in a virtual environment built once per machine under the
test cache (``$MODELYARD_TEST_CACHE``, default ``~/.cache/modelyard-tests``) and reused.
A file lock lets parallel test processes build each one once."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class Unavailable(Exception):
    """The reference environment could not be built."""


def cache_dir() -> Path:
    """Where reference environments live."""
    return Path(os.environ.get("MODELYARD_TEST_CACHE", Path.home() / ".cache" / "modelyard-tests"))


def cached_venv(name: str, packages: Sequence[str]) -> Path:
    """The Python of the environment ``name`` holding ``packages``, built on first use (a
    changed package list gets a new environment)."""
    root = cache_dir()
    name = f"{name}-{hashlib.sha256(' '.join(packages).encode()).hexdigest()[:8]}"
    venv = root / name
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "-q", *packages],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise Unavailable(f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
        marker.write_text("ok")
        return python
