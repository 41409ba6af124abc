"""Exit statuses tell the truth: every command that fails, run through the installed
``modelyard`` executable as cron or CI runs it, exits non-zero with one readable line."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio

from tests.helpers.cli_walk import commands, is_argument
from tests.helpers.models import fitted_immo

MODELYARD = Path(sys.executable).with_name("modelyard")  # the console script pip installed


def modelyard(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``modelyard ARGS`` in ``cwd``."""
    return subprocess.run(
        [str(MODELYARD), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def failing_args(path: list[str], command: Any, tmp: Path) -> list[str]:
    """Arguments that make ``path`` fail: no workspace in the folder it is pointed at, or
    (for the commands that create one) a place where none can be created."""
    if path == ["init"]:
        (tmp / "a-file").write_text("", encoding="utf-8")
        return ["init", str(tmp / "a-file" / "ws")]
    if path == ["quickstart"]:
        (tmp / "busy").mkdir(exist_ok=True)
        (tmp / "busy" / "notes.txt").write_text("", encoding="utf-8")
        return ["quickstart", "--dir", str(tmp / "busy"), "--no-serve"]
    args = ["--workspace", str(tmp / "nowhere"), *path]
    for param in command.params:
        if not param.required:
            continue
        if is_argument(param):
            args.append("x")
        else:
            args += [param.opts[0], "x"]
    return args


def test_every_command_that_fails_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "nowhere").mkdir()
    runs = [failing_args(path, command, tmp_path) for path, command in commands()]
    assert len(runs) > 40  # the walk found the CLI
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda args: modelyard(tmp_path, *args), runs))
    wrong = []
    for args, result in zip(runs, done, strict=True):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.returncode == 0 or len(lines) != 1 or "Traceback" in result.stderr:
            wrong.append((args, result.returncode, result.stderr[-500:]))
    assert wrong == []


def test_doctor_exits_1_on_a_tampered_artifact(tmp_path: Path) -> None:
    sio.dump(fitted_immo()[0], tmp_path / "model.skops")
    assert modelyard(tmp_path, "init").returncode == 0
    registered = modelyard(tmp_path, "models", "register", "model.skops", "--name", "immo")
    assert registered.returncode == 0, registered.stderr
    blobs = [p for p in (tmp_path / ".modelyard" / "artifacts").rglob("*") if p.is_file()]
    assert blobs
    for blob in blobs:
        blob.write_bytes(blob.read_bytes() + b"tampered")
    checked = modelyard(tmp_path, "doctor")
    assert checked.returncode == 1, checked.stdout
    assert "problems" in checked.stdout and "Traceback" not in checked.stderr


def test_a_usage_error_exits_2_and_help_exits_0(tmp_path: Path) -> None:
    assert modelyard(tmp_path, "--help").returncode == 0
    wrong = modelyard(tmp_path, "models", "frobnicate")
    assert wrong.returncode == 2 and "No such command" in wrong.stderr


@pytest.mark.parametrize("ok", [["--version"], ["models", "--help"]])
def test_commands_that_succeed_exit_0(tmp_path: Path, ok: list[str]) -> None:
    assert modelyard(tmp_path, *ok).returncode == 0
