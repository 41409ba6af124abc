"""Seed 003's environment at full size (xgboost, its ~350 MB NCCL wheel, scikit-learn,
pandas): a second environment with xgboost does not download it again, and a second
replica installs the first one's environment with the package index out of reach.

Heavy (about 1 GB unpacked per build): run by ``make test-envs``, not by ``make test``;
tests/deployments/test_environment_sharing.py shows the same with small wheels.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sklearn

from modelyard import Workspace
from modelyard.deployments.env import Requirements
from tests.conftest import make_settings
from tests.helpers.server import free_port

pytestmark = pytest.mark.heavy_env

SEED_003 = "dependencies:\n- scikit-learn={}\n- xgboost\n"


def _replica(root: Path, name: str) -> Workspace:
    settings = make_settings(
        root, f"sqlite:///{root / 'registry.db'}", serve={"env_cache": str(root / name)}
    )
    return Workspace(settings)


def test_xgboost_is_downloaded_once_and_a_second_replica_builds_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = Requirements.from_conda_yaml(SEED_003.format(sklearn.__version__))
    assert {"numpy", "pandas", "xgboost"} <= set(seed.lines)
    first, second = _replica(tmp_path, "envs-a"), _replica(tmp_path, "envs-b")
    try:
        cache = first.environments.cache()
        log: list[str] = []
        built = cache.ensure(seed, log.append)
        assert "published the lock" in "\n".join(log)
        [wheel] = (cache.wheelhouse.path).glob("xgboost-*.whl")

        log.clear()
        other = cache.ensure(Requirements.from_lines(["xgboost", "tabulate"]), log.append)
        text = "\n".join(log)
        assert other.packages["xgboost"] == built.packages["xgboost"]
        assert f"File was already downloaded {wheel}" in text, text
        assert "Saved ./wheels/xgboost" not in text and "Saved ./wheels/tabulate" in text

        monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
        monkeypatch.setenv("PIP_RETRIES", "0")
        log.clear()
        again = second.environments.cache().ensure(seed, log.append)
        assert again.packages == built.packages
        assert f"fetched {wheel.name}" in "\n".join(log)
    finally:
        first.close()
        second.close()
