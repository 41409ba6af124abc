"""``modelyard envs list | prune``: tables, dry runs, confirmation, one-line errors."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.deployments.env.requirements import Requirements
from modelyard.deployments.env.sharing import platform_of
from modelyard.storage.environments import EnvironmentLockStore, LockedWheel
from tests.cli.test_cli import cli
from tests.helpers.envs import deploy_with_environment, fake_environment


@pytest.fixture
def ws_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert cli(capsys, "init", str(root))[0] == 0
    return root


def _cache(root: Path) -> Path:
    return root / ".modelyard" / "envs"


def test_list_shows_hash_size_python_requirements_and_endpoints(
    ws_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "--workspace", str(ws_root), "envs", "list")
    assert code == 0 and "No cached environments" in out
    lines = ["six==1.17.0", "attrs==23.2.0", "idna==3.7", "zipp==3.19.2"]
    used = fake_environment(_cache(ws_root), lines, used_days_ago=1)
    with Workspace.from_config(ws_root) as ws:
        deploy_with_environment(ws, "churn", lines, tmp_path / "a")

    code, out, err = cli(capsys, "--workspace", str(ws_root), "envs", "list")

    assert code == 0, err
    row = next(line for line in out.splitlines() if used.name[:12] in line)
    assert "3.11.7" in row and "churn" in row and "ready" in row and "KB" in row
    assert "attrs==23.2.0, idna==3.7, six==1.17.0 (+1 more)" in row
    assert "1 environment built here," in out


def test_list_says_where_each_environment_lives_here_or_in_the_store(
    ws_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = fake_environment(_cache(ws_root), ["six==1.17.0"], python=platform.python_version())
    elsewhere = Requirements.from_lines(["idna==3.7"]).digest
    with Workspace.from_config(ws_root) as ws:
        locks = EnvironmentLockStore(ws.db)
        wheel = LockedWheel("six-1.17.0-py2.py3-none-any.whl", "ab" * 32, 11050)
        for digest, wheels in ((built.name, [wheel]), (elsewhere, [])):
            locks.publish(
                digest,
                platform_of(sys.executable),
                python=platform.python_version(),
                requirements=["six==1.17.0"],
                pins=["six==1.17.0"],
                wheels=wheels,
                by="replica-a",
            )
        store = ws.store.location

    code, out, err = cli(capsys, "--workspace", str(ws_root), "envs", "list")

    assert code == 0, err
    row = next(line for line in out.splitlines() if built.name[:12] in line)
    assert "here + store: 1 wheels" in row and "ready" in row
    row = next(line for line in out.splitlines() if elsewhere[:12] in line)
    assert "store: lock only" in row and "published" in row
    assert "1 environment built here" in out
    assert "2 environments published to" in out and Path(store).name in out


def test_prune_dry_run_then_confirmation_then_removal(
    ws_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = ["--workspace", str(ws_root)]
    in_use = fake_environment(_cache(ws_root), ["six==1.17.0"], used_days_ago=30)
    recent = fake_environment(_cache(ws_root), ["idna==3.7"], used_days_ago=1)
    old = fake_environment(_cache(ws_root), ["attrs==23.2.0"], used_days_ago=8)
    with Workspace.from_config(ws_root) as ws:
        deploy_with_environment(ws, "churn", ["six==1.17.0"], tmp_path / "a")

    code, out, err = cli(capsys, *workspace, "envs", "prune", "--dry-run")
    assert code == 0, err
    assert old.name[:12] in out and in_use.name[:12] not in out and recent.name[:12] not in out
    assert "Would remove 1 environment, freeing" in out and "Kept 1 in use, 1 used recently" in out
    assert old.is_dir()

    code, out, err = cli(capsys, *workspace, "envs", "prune")  # stdin is no terminal here
    assert code == 1 and "pass --yes" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and old.is_dir()

    code, out, err = cli(capsys, *workspace, "envs", "prune", "--yes")
    assert code == 0, err
    assert "Removed 1 environment, freed" in out and "KB" in out
    assert not old.exists() and in_use.is_dir() and recent.is_dir()

    code, out, _ = cli(capsys, *workspace, "envs", "prune", "--older-than", "12h", "--yes")
    assert code == 0 and "Removed 1 environment" in out and not recent.exists()
    code, out, _ = cli(capsys, *workspace, "envs", "prune", "--older-than", "0d", "--yes")
    assert code == 0 and "Nothing to prune" in out and in_use.is_dir()


@pytest.mark.parametrize("value", ["soon", "7", "-3d"])
def test_a_bad_older_than_is_one_line_error(
    ws_root: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = cli(
        capsys, "--workspace", str(ws_root), "envs", "prune", "--older-than", value
    )
    assert code == 1 and out == ""
    assert err.startswith("error[bad_duration]:") and "7d" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
