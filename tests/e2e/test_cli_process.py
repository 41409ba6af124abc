"""The real ``modelyard`` command in a subprocess, as a user types it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import skops.io as sio

from tests.helpers.models import fitted_immo


def modelyard(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m modelyard ARGS`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_newcomer_registers_promotes_and_checks_a_model(tmp_path: Path) -> None:
    est, _ = fitted_immo()
    sio.dump(est, tmp_path / "model.skops")
    assert modelyard(tmp_path, "init").returncode == 0
    done = modelyard(tmp_path, "models", "register", "model.skops", "--name", "immo", "--promote")
    assert done.returncode == 0, done.stderr
    assert "Registered immo:1" in done.stdout and "immo:1 is now champion" in done.stdout
    sub = tmp_path / "notebooks"
    sub.mkdir()
    shown = modelyard(sub, "models", "show", "immo@champion")  # found by walking up
    assert shown.returncode == 0 and "sha256" in shown.stdout
    doctor = modelyard(tmp_path, "doctor")
    assert doctor.returncode == 0 and "ok: 1 versions, 1 blobs checked" in doctor.stdout


def test_an_error_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    modelyard(tmp_path, "init")
    failed = modelyard(tmp_path, "models", "promote", "immo:7")
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        "error[model_not_found]: no model named 'immo': `modelyard models list` shows the models"
    )
