"""The Ray executor: a run fitted on a token-authenticated Ray cluster on loopback records
the same run as a local one; a search runs its trials as Ray tasks, two at a time on two
CPU slots; a Ray address without a token is refused.

The cluster is a real ``ray start --head``, one per module (Ray starts slowly). Outside CI
a machine where it cannot start skips these tests; with ``CI=true`` it is a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.errors import ConfigError
from modelyard.storage.runs import Run
from modelyard.types import RunState
from tests.conftest import IN_CI, make_settings
from tests.helpers.ray_cluster import RayUnavailable
from tests.helpers.ray_cluster import ray_cluster as running_ray_cluster

PID_SCRIPT = """\
import os

from sklearn.linear_model import LinearRegression


def train(df, params):
    print(f"fitted in process {os.getpid()}")
    return LinearRegression().fit(df[["surface"]], df["prix"])
"""
IMMO = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "evaluation": {"holdout": 0.2, "seed": 42},
    "promotion": {"metric": "r2", "min": 0.8, "policy": "latest-passing"},
}
BOOSTED = {"random_state": 0, "n_estimators": 30}
SEARCH = {  # 8 trials: every combination of 4 depths and 2 learning rates
    "method": "grid",
    "trials": 8,
    "space": {"max_depth": [1, 2, 3, 4], "learning_rate": [0.05, 0.3]},
}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, str]]:
    """A one-node Ray cluster with token auth on loopback and two CPU slots (two tasks at
    a time); yields (its Ray Client address, its token)."""
    try:
        with running_ray_cluster(num_cpus=2) as cluster:
            yield cluster
    except RayUnavailable as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: a Ray cluster that cannot start is a failure)")
        pytest.skip(str(exc))


def _workspace(root: Path, data_url: str, **executor: Any) -> Workspace:
    script = root.parent / "train_pid.py"
    script.write_text(PID_SCRIPT, encoding="utf-8")
    settings = make_settings(
        root,
        f"sqlite:///{root / 'registry.db'}",
        sources={"immo_db": {"url": data_url}},
        trainings={
            "immo": {**IMMO, "script": str(script)},
            "immo_text": {
                **IMMO,
                "query": "SELECT surface, 'lyon' AS ville, prix FROM immo",
                "estimator": "sklearn.linear_model.LinearRegression",
            },
            "immo_search": {
                **IMMO,
                "estimator": "sklearn.ensemble.GradientBoostingRegressor",
                "params": BOOSTED,
                "search": SEARCH,
            },
        },
        **({"executor": executor} if executor else {}),
    )
    return Workspace(settings)


def _queued_and_worked(ws: Workspace, training: str) -> Run:
    queued = ws.trainings.run(training, wait=False)
    job = ws.queue.worker().run_once()
    assert job is not None and job.id == queued.id
    return ws.runs.get(queued.id)


def _shape(run: Run) -> dict[str, Any]:
    """What must be the same whichever executor fitted the run."""
    decision = run.decision
    return {
        "state": run.state,
        "error": run.error,
        "metrics": run.metrics,
        "version": run.version,
        "rows": run.rows,
        "trigger": run.trigger,
        "outcome": decision.outcome if decision else None,
        "reason": decision.reason if decision else None,
        "stages": [s["name"] for s in run.stages],
    }


@pytest.fixture(scope="module")
def workspaces(
    ray_cluster: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Workspace]]:
    """Two workspaces on the same data: one fitting locally, one on the Ray cluster."""
    address, token = ray_cluster
    base = tmp_path_factory.mktemp("ray")
    data = f"sqlite:///{base / 'data.db'}"
    local = _workspace(base / "local", data)
    remote = _workspace(base / "ray", data, kind="ray", address=address, token=token)
    local.sources.demo_data("immo", "immo_db", 300, replace=True)
    yield local, remote
    remote.close()
    local.close()


def test_a_run_fitted_on_ray_is_recorded_like_a_local_one(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    local_ws, ray_ws = workspaces
    assert ray_ws.executor.kind == "ray" and local_ws.executor.kind == "local"
    local, remote = _queued_and_worked(local_ws, "immo"), _queued_and_worked(ray_ws, "immo")
    assert remote.state is RunState.SUCCEEDED, remote.error
    assert _shape(remote) == _shape(local)
    assert remote.metrics["r2"] >= 0.8 and remote.version == 1
    assert remote.decision is not None
    assert re.fullmatch(r"r2=0\.\d+ >= 0\.8: version 1 promoted", remote.decision.reason)
    assert ray_ws.models.get("immo").version == 1  # promoted, as the local one was
    # the fit ran in a Ray worker, not in this process; the local one ran here
    assert f"fitted in process {os.getpid()}" in local.logs
    assert "fitted in process " in remote.logs
    assert f"fitted in process {os.getpid()}" not in remote.logs
    assert f"fit runs on ray at {ray_ws.executor.describe().split(' at ')[1]}" in remote.logs
    local_model = local_ws.models.load("immo@champion")
    remote_model = ray_ws.models.load("immo@champion")
    assert list(remote_model.coef_) == list(local_model.coef_)


def test_a_fit_that_fails_on_ray_fails_the_run_like_a_local_one(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    local_ws, ray_ws = workspaces
    local = _queued_and_worked(local_ws, "immo_text")
    remote = _queued_and_worked(ray_ws, "immo_text")
    assert remote.state is RunState.FAILED
    assert remote.error is not None and remote.error.startswith("fit_failed: fit failed:")
    assert "non-numeric columns: ville" in remote.error
    assert _shape(remote) == _shape(local)


def test_a_search_on_ray_runs_8_trials_two_at_a_time_and_its_best_is_a_local_refit(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    _, ray_ws = workspaces
    run = _queued_and_worked(ray_ws, "immo_search")

    assert run.state is RunState.SUCCEEDED, run.error
    assert [t["number"] for t in run.trials] == list(range(1, 9))
    assert all(t["error"] is None for t in run.trials)
    workers = {t["worker"] for t in run.trials}  # "pid N on HOST": two CPU slots, two workers
    assert len(workers) >= 2 and not any(w.startswith(f"pid {os.getpid()} ") for w in workers)
    assert "search: grid, 8 trials by r2 on ray at ray://127.0.0.1:" in run.logs
    [best] = [t for t in run.trials if t["best"]]
    assert best["metrics"]["r2"] == max(t["metrics"]["r2"] for t in run.trials)

    # the best trial's parameters, fitted here on the run's own holdout, score the same
    with sa.create_engine(ray_ws.settings.sources["immo_db"]["url"]).connect() as conn:
        frame = pd.read_sql("SELECT surface, prix FROM immo", conn)
    x_train, x_test, y_train, y_test = train_test_split(
        frame[["surface"]], frame["prix"], test_size=0.2, random_state=42
    )
    refit = GradientBoostingRegressor(**BOOSTED, **best["params"]).fit(x_train, y_train)
    assert r2_score(y_test, refit.predict(x_test)) == best["metrics"]["r2"]
    # and the registered version is that model, through the gate
    assert run.metrics["r2"] == best["metrics"]["r2"] and run.version is not None
    version = ray_ws.models.get(run.model, version=run.version)
    assert {k: version.params[k] for k in best["params"]} == best["params"]
    assert run.decision is not None and "promoted" in run.decision.reason


def test_the_token_never_shows(workspaces: tuple[Workspace, Workspace]) -> None:
    _, ray_ws = workspaces
    token = ray_ws.settings.executor.token
    assert token is not None
    for text in (repr(ray_ws.settings), repr(ray_ws.executor), str(token)):
        assert token.reveal() not in text


def _ray_settings(tmp_path: Path, env: dict[str, str], **section: str) -> Settings:
    raw = {"registry": {"database_url": "sqlite:///r.db"}, "executor": {"kind": "ray", **section}}
    return Settings.from_mapping(raw, root=tmp_path, env=env)


def test_a_ray_address_without_a_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        _ray_settings(tmp_path, {}, address="ray://10.0.0.7:10001")
    message = refused.value.message
    assert "ray://10.0.0.7:10001 would be reached without authentication" in message
    assert "RAY_AUTH_MODE=token" in message and "MODELYARD_RAY_TOKEN" in message
    with pytest.raises(ConfigError, match="without authentication"):
        _ray_settings(tmp_path, {"MODELYARD_RAY_ADDRESS": "ray://head:10001"})


def test_a_ray_address_must_be_a_ray_client_address(tmp_path: Path) -> None:
    for address in ("10.0.0.7:6379", "auto", "local", "ray://head"):
        with pytest.raises(ConfigError, match="not a Ray Client address"):
            _ray_settings(tmp_path, {"MODELYARD_RAY_TOKEN": "t0ken"}, address=address)
    with pytest.raises(ConfigError, match="needs the cluster's Ray Client address"):
        _ray_settings(tmp_path, {"RAY_AUTH_TOKEN": "t0ken"})


def test_the_token_comes_from_the_settings_or_rays_own_variable(tmp_path: Path) -> None:
    address = {"address": "ray://head:10001"}
    ours = _ray_settings(
        tmp_path, {"MODELYARD_RAY_TOKEN": "ours", "RAY_AUTH_TOKEN": "rays"}, **address
    )
    assert ours.executor.token is not None and ours.executor.token.reveal() == "ours"
    rays = _ray_settings(tmp_path, {"RAY_AUTH_TOKEN": "rays"}, **address)
    assert rays.executor.token is not None and rays.executor.token.reveal() == "rays"
    assert "rays" not in repr(rays.executor)
    local = Settings.from_mapping({}, root=tmp_path, env={"RAY_AUTH_TOKEN": "rays"})
    assert local.executor.kind == "local" and local.executor.token is None
