"""Hyper-parameter search without Ray: trials in local processes, every one recorded in the
run, the best one registered and gated; declarations checked with the reason.

(The same search on a real Ray cluster is in tests/jobs/test_ray_executor.py.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import Workspace
from modelyard.errors import ConfigError
from modelyard.training.search_space import SearchSpec
from modelyard.training.spec import TrainingSpec
from modelyard.types import RunState
from tests.cli.test_cli import cli
from tests.conftest import make_settings

IMMO = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "estimator": "sklearn.linear_model.Ridge",
    "evaluation": {"holdout": 0.2, "seed": 42},
    "promotion": {"metric": "r2", "min": 0.5, "policy": "latest-passing"},
}
# alpha = -1 is refused by Ridge: a failed trial; 1e9 flattens the line: the worst r2
GRID = {"method": "grid", "space": {"alpha": [0.1, 1e9, -1.0, 10.0]}}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """Seed 000's immo data and a training that searches Ridge's alpha; its registry in a
    modelyard.toml too, for the CLI."""
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'registry.db'}",
        sources={"immo_db": {"url": f"sqlite:///{tmp_path / 'data.db'}"}},
        trainings={
            "immo": {**IMMO, "search": GRID},
            "broken": {**IMMO, "search": {"method": "grid", "space": {"alpha": [-1.0]}}},
        },
    )
    (tmp_path / "modelyard.toml").write_text(
        "[registry]\n"
        f'database_url = "sqlite:///{tmp_path / "registry.db"}"\n'
        f'artifacts = "{tmp_path / "artifacts"}"\n'
    )
    workspace = Workspace(settings)
    workspace.sources.demo_data("immo", "immo_db", 200, replace=True)
    yield workspace
    workspace.close()


def test_a_grid_search_records_every_trial_and_registers_the_best(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ws.trainings.run("immo")

    assert run.state is RunState.SUCCEEDED, run.error
    assert [t["params"]["alpha"] for t in run.trials] == [0.1, 1e9, -1.0, 10.0]
    failed = run.trials[2]
    assert failed["error"] and "alpha" in failed["error"] and not failed["metrics"]
    assert all(not t["worker"].startswith(f"pid {os.getpid()} ") for t in run.trials)
    [best] = [t for t in run.trials if t["best"]]
    scored = [t["metrics"]["r2"] for t in run.trials if not t["error"]]
    assert best["metrics"]["r2"] == max(scored) and best["params"]["alpha"] in (0.1, 10.0)
    assert run.metrics["r2"] == best["metrics"]["r2"]  # the registered model is the best
    assert ws.models.get("immo", version=run.version).params["alpha"] == best["params"]["alpha"]
    assert run.decision is not None and "version 1 promoted" in run.decision.reason
    assert [s["name"] for s in run.stages][:3] == ["load", "search", "fit"]
    assert "trial 3/4 alpha=-1: failed:" in run.logs and "best: trial" in run.logs

    code, out, err = cli(capsys, "--workspace", str(ws.settings.root), "runs", "show", run.id)
    assert code == 0, err
    assert "Search: 4 trials" in out and "failed:" in out and f"{best['number']} *" in out


def test_a_run_parameter_that_is_also_searched_is_refused(ws: Workspace) -> None:
    run = ws.trainings.run("immo", params={"alpha": 3.0})
    assert run.state is RunState.FAILED and not run.trials
    assert run.error is not None and run.error.startswith("invalid_option: parameter alpha")


def test_a_search_whose_every_trial_fails_fails_the_run_with_their_errors(ws: Workspace) -> None:
    run = ws.trainings.run("broken")
    assert run.state is RunState.FAILED and run.version is None
    assert run.error is not None and run.error.startswith("search_failed: no trial")
    assert "trial 1: " in run.error and "alpha" in run.error
    assert len(run.trials) == 1 and run.trials[0]["error"] and not run.trials[0]["best"]
    assert ws.models.list() == []  # nothing registered, nothing promoted


def test_random_draws_are_seeded_typed_and_within_their_ranges() -> None:
    data: dict[str, Any] = {
        "method": "random",
        "trials": 20,
        "seed": 7,
        "space": {
            "depth": {"low": 2, "high": 6},
            "rate": {"low": 0.001, "high": 0.5, "log": True},
            "kind": ["a", "b"],
        },
    }
    drawn = SearchSpec.parse(data, "s").candidates()
    assert drawn == SearchSpec.parse(data, "s").candidates() and len(drawn) == 20
    assert all(isinstance(d["depth"], int) and 2 <= d["depth"] <= 6 for d in drawn)
    assert all(isinstance(d["rate"], float) and 0.001 <= d["rate"] <= 0.5 for d in drawn)
    assert {d["kind"] for d in drawn} == {"a", "b"} and len({d["depth"] for d in drawn}) > 2
    assert drawn != SearchSpec.parse({**data, "seed": 8}, "s").candidates()


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"method": "grid", "space": {"a": {"low": 1, "high": 2}}}, "a grid needs lists"),
        ({"method": "grid", "trials": 2, "space": {"a": [1, 2, 3]}}, "3 combinations"),
        ({"method": "random", "space": {"a": [1, 2]}}, "needs trials = N"),
        ({"method": "bayes", "space": {"a": [1]}}, 'must be "grid" or "random"'),
        ({"space": {}, "trials": 2}, "at least one parameter"),
        ({"trials": 2, "space": {"a": {"low": 0, "high": 1, "log": True}}}, "log range"),
        ({"trials": 2, "space": {"a": [1]}, "budget": 3}, "unknown keys budget"),
        ({"trials": 2, "space": {"a": [1]}, "metric": "nope"}, "unknown metric 'nope'"),
    ],
)
def test_bad_search_declarations_say_what_to_fix(search: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainingSpec.parse("immo", {**IMMO, "search": search}, Path("."))


def test_a_search_needs_a_metric_when_the_promotion_has_none() -> None:
    manual = {**IMMO, "promotion": {"policy": "manual"}}
    with pytest.raises(ConfigError, match="needs metric"):
        TrainingSpec.parse("immo", {**manual, "search": {"trials": 2, "space": {"a": [1]}}}, Path())
    spec = TrainingSpec.parse(
        "immo", {**manual, "search": {"trials": 2, "metric": "mae", "space": {"a": [1]}}}, Path()
    )
    assert spec.search is not None and spec.search.metric == "mae"
