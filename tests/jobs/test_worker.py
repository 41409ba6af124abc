"""Workers run queued trainings; runs and jobs share one id; cancel and reaping."""

from __future__ import annotations

from pathlib import Path

from modelyard import Workspace
from modelyard.types import RunState
from tests.conftest import make_settings

TRAINING = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "estimator": "sklearn.linear_model.LinearRegression",
    "promotion": {"metric": "r2", "min": 0.8},
}


def _workspace(tmp_path: Path, db_url: str) -> Workspace:
    data = f"sqlite:///{tmp_path / 'data.db'}"
    ws = Workspace(
        make_settings(
            tmp_path, db_url, sources={"immo_db": {"url": data}}, trainings={"immo": TRAINING}
        )
    )
    ws.sources.demo_data("immo", "immo_db", 300, replace=True)
    return ws


def test_a_queued_run_is_run_by_a_worker_and_promotes(db_url: str, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, db_url)
    queued = ws.trainings.run("immo", wait=False, idempotency_key="k")
    assert queued.state is RunState.QUEUED
    assert ws.trainings.run("immo", wait=False, idempotency_key="k").id == queued.id
    job = ws.queue.worker().run_once()
    assert job is not None and job.state == "succeeded" and job.id == queued.id
    done = ws.runs.get(queued.id)
    assert done.state is RunState.SUCCEEDED and done.version == 1 and done.trigger == "sdk"
    assert ws.models.get("immo").version == 1
    assert ws.queue.worker().run_once() is None
    ws.close()


def test_cancelling_a_queued_run(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    queued = ws.trainings.run("immo", wait=False)
    assert ws.runs.cancel(queued.id[:8]).state is RunState.CANCELLED
    assert ws.queue.worker().run_once() is None
    ws.close()


def test_a_run_whose_worker_died_is_failed_by_the_reaper(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    queued = ws.trainings.run("immo", wait=False)
    assert ws.queue.jobs.claim("ghost") is not None  # claimed, then never heard of again
    reaper = ws.queue.worker(heartbeat_s=-1)  # any heartbeat is already stale
    (reaped,) = reaper.reap()
    assert reaped.state == "failed"
    run = ws.runs.get(queued.id)
    assert run.state is RunState.FAILED and "worker ghost stopped heartbeating" in (run.error or "")
    ws.close()
