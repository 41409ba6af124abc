"""``modelyard schedules …`` and ``modelyard runs cancel`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard import Workspace
from tests.cli.test_cli import cli

CONFIG = """
[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
promotion = { metric = "r2", min = 0.8, policy = "latest-passing" }
schedule = "0 * * * *"
"""


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    with (tmp_path / "modelyard.toml").open("a") as handle:
        handle.write(CONFIG)
    return tmp_path


def test_schedules_list_pause_and_resume(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ("--workspace", str(root))
    code, out, _ = cli(capsys, *ws, "schedules", "list")
    assert code == 0 and "No schedules" in out and "modelyard up" in out
    with Workspace.from_config(root) as workspace:
        workspace.queue.sync_schedules()  # what `modelyard up` and `modelyard scheduler` do
    code, out, _ = cli(capsys, *ws, "schedules", "list")
    assert code == 0 and "immo" in out and "0 * * * *" in out and "active" in out
    code, out, _ = cli(capsys, *ws, "schedules", "pause", "immo")
    assert code == 0 and "paused the schedule of immo" in out
    assert "paused" in cli(capsys, *ws, "schedules", "list")[1]
    code, out, _ = cli(capsys, *ws, "schedules", "resume", "immo")
    assert code == 0 and "resumed the schedule of immo" in out
    code, _, err = cli(capsys, *ws, "schedules", "pause", "nope")
    assert code == 1 and "no training named 'nope'" in err


def test_runs_cancel(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ("--workspace", str(root))
    with Workspace.from_config(root) as workspace:
        run = workspace.trainings.run("immo", wait=False)
    code, out, _ = cli(capsys, *ws, "runs", "cancel", run.id[:8])
    assert code == 0 and f"cancelled run {run.id[:8]} of immo" in out
    code, _, err = cli(capsys, *ws, "runs", "cancel", run.id[:8])
    assert code == 1 and "error[conflict]" in err and "nothing to cancel" in err
