"""``ws.environments``: the cache as the SDK shows it, with the endpoints using each one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelyard import InvalidInput, Workspace
from modelyard.deployments.env.requirements import Requirements
from modelyard.workspace.environments import Environment, PruneReport
from tests.helpers.envs import deploy_with_environment, fake_environment


def test_list_shows_which_endpoints_use_each_environment(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    root = ws.settings.environments
    shared = fake_environment(root, ["six==1.17.0"], used_days_ago=1)
    unused = fake_environment(root, ["attrs==23.2.0"], used_days_ago=9)
    deploy_with_environment(ws, "churn", ["six==1.17.0"], tmp_path / "a")
    deploy_with_environment(ws, "upsell", ["six==1.17.0"], tmp_path / "b")

    envs = ws.environments.list()

    assert all(isinstance(env, Environment) for env in envs)
    assert [(env.path, env.endpoints) for env in envs] == [
        (unused, ()),
        (shared, ("churn", "upsell")),
    ]
    assert envs[1].requirements == ("six==1.17.0",) and envs[1].python == "3.11.7"
    assert envs[1].status == "ready" and envs[1].size_bytes >= 100_000


def test_prune_keeps_what_endpoints_use_and_follows_their_current_spec(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    root = ws.settings.environments
    first = fake_environment(root, ["six==1.17.0"], used_days_ago=30)
    second = fake_environment(root, ["six==1.16.0"], used_days_ago=30)
    deploy_with_environment(ws, "churn", ["six==1.17.0"], tmp_path / "a")

    dry = ws.environments.prune(older_than="7d", dry_run=True)
    assert isinstance(dry, PruneReport) and dry.dry_run and dry.older_than == timedelta(days=7)
    assert [e.path for e in dry.removed] == [second] and second.is_dir()
    assert [(k.environment.path, k.reason) for k in dry.kept] == [(first, "in use")]

    ws.endpoints.update_script("churn", environment=Requirements.from_lines(["six==1.16.0"]))
    done = ws.environments.prune(older_than=timedelta(days=7))
    assert [e.path for e in done.removed] == [first] and not first.exists()
    assert done.freed_bytes >= 100_000
    assert [k.environment.endpoints for k in done.kept] == [("churn",)] and second.is_dir()


def test_a_bad_age_is_invalid_input(sqlite_workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="not an age"):
        sqlite_workspace.environments.prune(older_than="soon")
