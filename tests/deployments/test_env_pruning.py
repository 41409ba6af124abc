"""Listing and pruning the environment cache: real folders, real locks, one real build."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.deployments.env.inventory import EnvironmentStatus, scan
from modelyard.deployments.env.prune import KeptBecause, parse_age, prune
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import InvalidInput
from tests.helpers.envs import fake_environment

WEEK = timedelta(days=7)


def test_scan_reads_size_python_times_and_requirements(tmp_path: Path) -> None:
    path = fake_environment(tmp_path, ["six==1.17.0", "numpy==1.26.4"], used_days_ago=3)
    [env] = scan(tmp_path)
    assert env.path == path and env.digest == path.name and env.short == path.name[:12]
    assert env.status is EnvironmentStatus.READY and env.python == "3.11.7"
    assert env.requirements == ("numpy==1.26.4", "six==1.17.0")
    assert env.size_bytes >= 100_000
    assert timedelta(days=2.9) < env.created_at.now(env.created_at.tzinfo) - env.last_used_at
    assert scan(tmp_path / "missing") == []


def test_prune_keeps_in_use_and_recent_and_removes_old_unused(tmp_path: Path) -> None:
    in_use = fake_environment(tmp_path, ["a==1"], used_days_ago=30)
    recent = fake_environment(tmp_path, ["b==1"], used_days_ago=2)
    old = fake_environment(tmp_path, ["c==1"], used_days_ago=8)

    result = prune(tmp_path, in_use={in_use.name}, older_than=WEEK)

    assert [e.path for e in result.removed] == [old] and not old.exists()
    assert result.freed_bytes >= 100_000 and not result.dry_run
    assert {(e.path, why) for e, why in result.kept} == {
        (in_use, KeptBecause.IN_USE),
        (recent, KeptBecause.RECENT),
    }
    assert in_use.is_dir() and recent.is_dir()


def test_dry_run_removes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    old = fake_environment(tmp_path, ["c==1"], used_days_ago=30)
    before = sorted(p.name for p in tmp_path.iterdir())

    result = prune(tmp_path, in_use=(), older_than=WEEK, dry_run=True)

    assert [e.path for e in result.removed] == [old] and result.dry_run
    assert result.freed_bytes >= 100_000
    assert old.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == before


def test_only_folders_that_look_like_environments_are_touched(tmp_path: Path) -> None:
    root, outside = tmp_path / "envs", tmp_path / "outside"
    env = fake_environment(root, ["c==1"], used_days_ago=30)
    elsewhere = fake_environment(outside, ["d==1"], used_days_ago=30)
    (root / ("e" * 64)).symlink_to(elsewhere, target_is_directory=True)  # a link to an env
    (root / ("f" * 64)).mkdir()  # a digest-named folder that is no virtualenv
    (root / ("f" * 64) / "data.txt").write_text("keep me")
    (root / ("0" * 64)).write_text("a file")
    (root / "notes").mkdir()

    assert [e.path for e in scan(root)] == [env]
    result = prune(root, in_use=(), older_than=timedelta(0))

    assert [e.path for e in result.removed] == [env] and not env.exists()
    assert elsewhere.is_dir() and (elsewhere / ".complete").is_file()
    assert (root / ("e" * 64)).is_symlink() and (root / ("f" * 64) / "data.txt").exists()
    assert (root / ("0" * 64)).is_file() and (root / "notes").is_dir()


def test_ensure_records_each_use(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path)
    path = fake_environment(
        tmp_path, ["six==1.17.0"], used_days_ago=30, python=cache.python_version
    )
    built = cache.ensure(Requirements.from_lines(["six==1.17.0"]))
    assert built.reused and built.path == path
    result = prune(tmp_path, in_use=(), older_than=WEEK)
    assert result.removed == () and result.kept[0][1] is KeptBecause.RECENT


def test_a_build_in_progress_is_kept_then_a_pruned_env_is_built_again(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path)
    nothing = Requirements.from_lines([])  # a bare virtualenv: a real build in seconds
    almost, release = threading.Event(), threading.Event()
    results: list[Path] = []

    def hold_before_complete(line: str) -> None:  # the folder exists, .complete does not
        if line.startswith("environment ready in"):
            almost.set()
            release.wait(60)

    builder = threading.Thread(
        target=lambda: results.append(cache.ensure(nothing, hold_before_complete).path)
    )
    builder.start()
    try:
        assert almost.wait(120), "the build did not get to its last step"
        path = cache.path_for(nothing)
        os.utime(path, (0, 0))  # even an ancient-looking build in progress is kept
        [env] = scan(tmp_path)
        assert env.status is EnvironmentStatus.BUILDING
        result = prune(tmp_path, in_use=(), older_than=timedelta(0))
        assert result.removed == () and result.kept[0][1] is KeptBecause.BUILDING
        assert path.is_dir()
    finally:
        release.set()
        builder.join(120)
    assert results == [path] and scan(tmp_path)[0].status is EnvironmentStatus.READY

    result = prune(tmp_path, in_use=(), older_than=timedelta(0))
    assert [e.path for e in result.removed] == [path] and not path.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    again = cache.ensure(nothing)
    assert not again.reused and (again.path / ".complete").is_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("0d", timedelta(0)),
        (" 1.5d ", timedelta(hours=36)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_ages_read_as_a_number_and_a_unit(text: str | timedelta, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "7", "abc", "-1d", "7 days", "1y"])
def test_a_bad_age_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match="30m, 12h, 7d or 2w") as caught:
        parse_age(text)
    assert caught.value.code == "bad_duration"
