"""Environments shared by builds and by replicas: one wheelhouse per cache, a published lock
and its wheels in the artifact store, installed by the next replica without the network.

Real pip builds of small wheels from this machine's local index; "the index unreachable"
is pip pointed at a closed port with its configuration files ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.deployments.env.builder import EnvironmentCache
from modelyard.deployments.env.requirements import Requirements
from modelyard.errors import EnvironmentBuildFailed
from tests.helpers.envs import replicas, unreachable_index

SIX = "six==1.17.0"
DATEUTIL = "python-dateutil==2.9.0.post0"  # depends on six


def _build(cache: EnvironmentCache, *lines: str) -> tuple[dict[str, str], str]:
    log: list[str] = []
    built = cache.ensure(Requirements.from_lines(lines), log.append)
    return built.packages, "\n".join(log)


def test_builds_share_one_wheelhouse_and_take_from_it_what_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    first, log = _build(cache, DATEUTIL)
    assert first == {"python-dateutil": "2.9.0.post0", "six": "1.17.0"}
    assert "Saved ./wheels/six-1.17.0-py2.py3-none-any.whl" in log

    # everything it needs is in the wheelhouse: it builds with the index unreachable
    with monkeypatch.context() as patch:
        unreachable_index(patch)
        second, log = _build(cache, SIX)
        assert second == {"six": "1.17.0"}
        assert "trying the shared wheel cache" in log and "pip wheel" not in log  # no fill
        with pytest.raises(EnvironmentBuildFailed):  # the index really is out of reach
            _build(cache, "tabulate")

    # one package missing: the index gives it, and six is not fetched again
    third, log = _build(cache, SIX, "tabulate")
    assert third["six"] == "1.17.0" and "tabulate" in third
    assert "File was already downloaded" in log and "wheels/six-1.17.0-py2.py3-none-any.whl" in log
    assert "Saved ./wheels/six" not in log and "Saved ./wheels/tabulate" in log
    assert (cache.root / "wheels" / "six-1.17.0-py2.py3-none-any.whl").is_file()


def test_a_replica_installs_the_published_wheels_offline_and_refuses_an_altered_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with replicas(tmp_path) as (first, second):
        built, log = _build(first.environments.cache(), DATEUTIL)
        assert "published the lock (2 distributions) and 2 wheels" in log
        digest = Requirements.from_lines([DATEUTIL]).digest
        shared = first.environments.shared
        assert shared is not None
        lock = shared.find(digest, first.environments.cache().platform)
        assert lock is not None and lock.pins == ("python-dateutil==2.9.0.post0", "six==1.17.0")
        assert all(first.store.exists(wheel.sha256) for wheel in lock.wheels)

        [seen] = second.environments.list()  # published, not built on this replica yet
        assert (seen.digest, seen.status, seen.where) == (digest, "published", "store")
        assert seen.published is not None and seen.published.wheels == 2

        with monkeypatch.context() as patch:
            unreachable_index(patch)
            again, log = _build(second.environments.cache(), DATEUTIL)
        assert again == built
        assert "installing the 2 published wheels by hash, without the index" in log
        assert "fetched six-1.17.0-py2.py3-none-any.whl" in log and "--require-hashes" in log
        assert "published the lock" not in log  # the one kept is the first replica's
        assert (tmp_path / "envs-b" / digest / "lock.txt").read_text() == (
            tmp_path / "envs-a" / digest / "lock.txt"
        ).read_text()
        [both] = second.environments.list()
        assert (both.status, both.where) == ("ready", "here + store")
        assert second.doctor().ok

        # -- a wheel altered in the store: refused by sha256, the index gives the same versions
        six = next(wheel for wheel in lock.wheels if wheel.file.startswith("six-"))
        blob = Path(first.store.blob_path(six.sha256))
        blob.chmod(0o644)
        data = blob.read_bytes()
        blob.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
        problems = [f for f in first.doctor().findings if f.severity == "problem"]
        assert [p.subject for p in problems] == [f"environment {digest[:12]} {six.file}"]

        third = EnvironmentCache(tmp_path / "envs-c", shared=shared)
        with monkeypatch.context() as patch:  # offline, the altered wheel leaves no way
            unreachable_index(patch)
            with pytest.raises(EnvironmentBuildFailed) as refused:
                _build(third, DATEUTIL)
        log = third.build_log(Requirements.from_lines([DATEUTIL]))
        assert f"published wheel {six.file} cannot be used" in log and "was modified" in log
        assert "No matching distribution found" in refused.value.message

        again, log = _build(third, DATEUTIL)  # the index is back
        assert again == built
        assert "installing the same versions" in log and "was modified" in log
