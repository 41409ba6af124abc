"""Three scheduler processes on PostgreSQL: one fires, each fire once; kill the leader and
another takes over within the lease."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.storage.queue import LeaseStore
from tests.conftest import make_settings
from tests.jobs.test_worker import TRAINING

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "scheduler_process.py"
EVERY_S = 2
LEASE_S = 3.0


@pytest.mark.slow
def test_three_schedulers_fire_each_time_once_and_survive_the_leaders_death(
    postgresql_url: str, tmp_path: Path
) -> None:
    data = f"sqlite:///{tmp_path / 'data.db'}"
    declaration = {**TRAINING, "schedule": f"every {EVERY_S}s"}
    ws = Workspace(
        make_settings(
            tmp_path,
            postgresql_url,
            sources={"immo_db": {"url": data}},
            trainings={"immo": declaration},
        )
    )
    ws.sources.demo_data("immo", "immo_db", 200, replace=True)
    ws.queue.sync_schedules()
    command = [
        sys.executable,
        str(HELPER),
        postgresql_url,
        data,
        str(tmp_path),
        json.dumps(declaration),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(3)
    ]
    holders = {p.stdout.readline().strip(): p for p in procs if p.stdout}  # type: ignore[union-attr]
    try:
        started = time.time()
        time.sleep(12)
        leases = LeaseStore(ws.db)
        leader = leases.holder("scheduler")
        assert leader in holders
        holders[leader].send_signal(signal.SIGKILL)
        killed_at = time.time()
        time.sleep(14)
        new_leader = leases.holder("scheduler")
        assert new_leader in holders and new_leader != leader
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    fires = ws.queue.schedules.fires("immo")
    started_fires = [(at, job) for at, outcome, job in fires if outcome == "started"]
    runs = [r for r in ws.runs.list("immo", limit=200) if r.trigger == "schedule"]
    # each fire started exactly one run, and every run came from a recorded fire
    assert sorted(job for _, job in started_fires) == sorted(r.id for r in runs)
    window = time.time() - started
    # no extra fires, and no fires lost beyond the lease gap (missed ones coalesce)
    assert window / EVERY_S - LEASE_S / EVERY_S - 2 <= len(fires) <= window / EVERY_S + 1
    # after the kill, a fire happens again within the lease (plus one period and a tick)
    after = [at.timestamp() for at, _, _ in fires if at.timestamp() > killed_at]
    assert after and after[0] - killed_at <= LEASE_S + EVERY_S + 1
    assert all(r.state.value in ("succeeded", "failed", "queued", "running") for r in runs)
    ws.close()
