"""``modelyard worker`` as a real process: SIGTERM lets it finish the run in hand; a worker
killed with SIGKILL mid-run has its run failed by another worker's reaper within three
heartbeats, and the champion is untouched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.storage.runs import Run
from modelyard.types import RunState
from tests.conftest import _empty
from tests.helpers.processes import started

HEARTBEAT_S = 1.0
SLOW_SCRIPT = """\
import time

from sklearn.linear_model import LinearRegression


def train(df, params):
    time.sleep(float(params.get("sleep", 0)))
    return LinearRegression().fit(df[["surface"]], df["prix"])
"""


def slow_workspace(root: Path, registry_url: str) -> Workspace:
    """A workspace whose ``immo`` training sleeps ``params.sleep`` seconds while fitting,
    with a champion (version 1) trained at once."""
    (root / "slow_train.py").write_text(SLOW_SCRIPT)
    (root / "modelyard.toml").write_text(
        f"""\
[registry]
database_url = "{registry_url}"
artifacts = "artifacts"

[sources.immo_db]
url = "sqlite:///data.db"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
script = "slow_train.py"
promotion = {{ metric = "r2", min = 0.8, policy = "latest-passing" }}
"""
    )
    ws = Workspace.from_config(root)
    ws.sources.demo_data("immo", "immo_db", 300, replace=True)
    assert ws.trainings.run("immo").version == 1
    return ws


def _state(ws: Workspace, run: Run) -> RunState:
    return ws.runs.get(run.id).state


@pytest.mark.slow
def test_sigterm_lets_the_worker_finish_the_run_in_hand(
    postgresql_url: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)
    ws = slow_workspace(tmp_path, postgresql_url)
    queued = ws.trainings.run("immo", wait=False, params={"sleep": 3})
    with started(tmp_path, "worker", "--heartbeat", str(HEARTBEAT_S)) as worker:
        worker.wait_for(lambda: _state(ws, queued) is RunState.RUNNING, 60, "the run started")
        assert worker.terminate(timeout=60) == 0, worker.output()
        output = worker.output()
    done = ws.runs.get(queued.id)
    assert done.state is RunState.SUCCEEDED and done.version == 2, done.error
    assert ws.models.get("immo").version == 2
    assert "finishing what is in hand" in output and "stopped" in output
    assert "finishing" not in done.logs  # the script's capture of stderr did not take it
    assert "Traceback" not in output
    ws.close()


@pytest.mark.slow
def test_a_killed_workers_run_is_failed_by_another_workers_reaper(
    postgresql_url: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)
    ws = slow_workspace(tmp_path, postgresql_url)
    queued = ws.trainings.run("immo", wait=False, params={"sleep": 120})
    beat = ("worker", "--heartbeat", str(HEARTBEAT_S))
    with started(tmp_path, *beat) as doomed:
        doomed.wait_for(lambda: _state(ws, queued) is RunState.RUNNING, 60, "the run started")
        with started(tmp_path, *beat) as survivor:
            survivor.wait_for(lambda: "waiting for trainings" in survivor.output(), 60, "start")
            job = ws.queue.jobs.get(queued.id)
            assert job.worker is not None and f":{doomed.pid}:" in job.worker
            time.sleep(HEARTBEAT_S)  # into the fit, with a heartbeat or two sent
            doomed.kill()
            killed = time.monotonic()
            survivor.wait_for(
                lambda: _state(ws, queued) is RunState.FAILED, 10 * HEARTBEAT_S, "the run failed"
            )
            noticed = time.monotonic() - killed
            assert survivor.terminate() == 0
    # stale after 3 heartbeats; the survivor looks between two polls of its empty queue
    print(f"failed {noticed:.1f} s after the kill")  # visible with -s
    assert noticed < 3 * HEARTBEAT_S + 1.5, noticed
    failed = ws.runs.get(queued.id)
    assert failed.error is not None and failed.error.startswith("worker_lost")
    assert job.worker in failed.error
    assert ws.queue.jobs.get(queued.id).state == "failed"
    assert ws.models.get("immo").version == 1
    assert [v.version for v in ws.models.versions("immo")] == [1]
    ws.close()
