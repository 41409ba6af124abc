"""Three scheduler replicas on PostgreSQL while the leader is SIGKILLed again and again
(every 20 s for 3 minutes in the full battery; every 10 s for 40 s in ``make test``), a
fresh replica started after each kill so that three always run: no fire recorded twice,
no fire missed (consecutive fires one period apart), each fire started one run."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.storage.leases import LeaseStore
from tests.conftest import _empty, make_settings
from tests.helpers import figures
from tests.jobs.test_worker import TRAINING

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "scheduler_process.py"
EVERY_S = int(figures.scale(5, 10))
WINDOW_S = figures.scale(40.0, 180.0)
KILL_EVERY_S = figures.scale(10.0, 20.0)
LEASE_S = 3.0  # the helper's lease


@pytest.mark.xdist_group("postgres-fleet")  # see tests/e2e/test_load_balancer.py
def test_the_leader_killed_again_and_again_loses_and_doubles_no_fire(
    postgresql_url: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)  # the session's database: no other test's schedules or runs
    data = f"sqlite:///{tmp_path / 'data.db'}"
    declaration = {**TRAINING, "schedule": f"every {EVERY_S}s"}
    settings = make_settings(
        tmp_path,
        postgresql_url,
        sources={"immo_db": {"url": data}},
        trainings={"immo": declaration},
    )
    ws = Workspace(settings)
    ws.sources.demo_data("immo", "immo_db", 200, replace=True)
    ws.queue.sync_schedules()
    command = [sys.executable, str(HELPER), postgresql_url, data, str(tmp_path)]
    command.append(json.dumps(declaration))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def launch() -> tuple[str, subprocess.Popen[str]]:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        return proc.stdout.readline().strip(), proc

    holders = dict(launch() for _ in range(3))
    leases = LeaseStore(ws.db)
    takeovers: list[float] = []
    try:
        started = time.time()
        while time.time() - started + KILL_EVERY_S <= WINDOW_S:
            time.sleep(max(0.0, started + (len(takeovers) + 1) * KILL_EVERY_S - time.time()))
            leader = leases.holder("scheduler")
            assert leader in holders, f"no live leader at +{time.time() - started:.0f} s"
            holders.pop(leader).send_signal(signal.SIGKILL)
            killed_at = time.time()
            new = leader
            while new in (None, leader) and time.time() - killed_at < 10 * LEASE_S:
                new = leases.holder("scheduler")
                time.sleep(0.1)
            waited = time.time() - killed_at
            assert new not in (None, leader), (
                f"kill {len(takeovers) + 1}: none took over in {waited:.0f} s"
            )
            takeovers.append(time.time() - killed_at)
            name, proc = launch()  # three replicas again
            holders[name] = proc
        time.sleep(max(0.0, started + WINDOW_S + 1.0 - time.time()))
    finally:
        for proc in holders.values():
            proc.send_signal(signal.SIGTERM)
        for proc in holders.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    fires = [f for f in ws.queue.schedules.fires("immo") if f[0].timestamp() >= started]
    times = [at.timestamp() for at, _, _ in fires]
    doubled = len(times) - len(set(times))
    gaps = [round(b - a) for a, b in itertools.pairwise(sorted(times))]
    missed = sum(max(0, gap // EVERY_S - 1) for gap in gaps)
    jobs = [job for _, outcome, job in fires if outcome == "started"]
    runs = {r.id for r in ws.runs.list("immo", limit=500) if r.trigger == "schedule"}
    ws.close()
    figures.record(
        "Scheduler leader SIGKILLed repeatedly (PostgreSQL, 3 replicas)",
        load=f"a training scheduled every {EVERY_S} s, {WINDOW_S:g} s",
        faults=f"the leader killed every {KILL_EVERY_S:g} s ({len(takeovers)} kills)",
        result=(
            f"{len(fires)} fires, {doubled} duplicate, {missed} missed; takeover in "
            f"max {max(takeovers):.1f} s (lease {LEASE_S:g} s); each fire one run"
        ),
        passed=doubled == 0 and missed == 0 and set(jobs) <= runs,
    )
    assert doubled == 0, fires
    assert missed == 0, gaps
    assert len(jobs) == len(set(jobs)) and set(jobs) <= runs
    assert max(takeovers) <= LEASE_S + 1.5, takeovers
