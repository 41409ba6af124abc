"""Seed 003's environment at full size (xgboost, its ~350 MB NCCL wheel, scikit-learn,
pandas): a second environment with xgboost does not download it again, and a second
replica installs the first one's environment with the package index out of reach.

Heavy (about 1 GB unpacked per build): run by ``make test-envs``, not by ``make test``;
tests/deployments/test_environment_sharing.py shows the same with small wheels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sklearn

from modelyard.deployments.env.requirements import Requirements
from tests.helpers.envs import replicas, unreachable_index

pytestmark = pytest.mark.heavy_env

SEED_003 = "dependencies:\n- scikit-learn={}\n- xgboost\n"


def test_xgboost_is_downloaded_once_and_a_second_replica_builds_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = Requirements.from_conda_yaml(SEED_003.format(sklearn.__version__))
    assert {"numpy", "pandas", "xgboost"} <= set(seed.lines)
    with replicas(tmp_path) as (first, second):
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

        unreachable_index(monkeypatch)
        log.clear()
        again = second.environments.cache().ensure(seed, log.append)
        assert again.packages == built.packages
        assert f"fetched {wheel.name}" in "\n".join(log)
