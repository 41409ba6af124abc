"""HAProxy in front of three ``modelyard serve`` replicas, with ``modelyard up`` and a worker,
on PostgreSQL and S3 (moto's server): a fixed rate of 300 requests/s, one replica restarted
every ``RESTART_EVERY_S`` and 10 promotions through the admin API. No request fails, and
every answer comes from a version that was champion while its request was in flight:
promoted before the answer came, its successor's promote call not yet returned when the
request was sent. The haproxy.cfg is docs/production.md's, with the ports changed.

``make test`` runs 20 s of load (a restart every 7 s); ``make test-scale`` sets
``SCALE_LOAD_S=60`` for the full minute with a restart every 15 s. Restarts are rolling
(one replica at a time); on a machine so busy that they take longer than planned, the
load goes on until the last one is ready again, so that every restart happens under load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard import Workspace
from tests.conftest import IN_CI, _empty
from tests.helpers import figures
from tests.helpers.control import ADMIN, ADMIN_KEY
from tests.helpers.models import register_constants
from tests.helpers.object_storage import ObjectStore
from tests.helpers.processes import Process
from tests.helpers.server import free_port

# never beside the other multi-process PostgreSQL tests: together they exhaust the shared
# server's 100 connections and both cores (make test runs xdist with --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres-fleet")]

LOAD_S = float(os.environ.get("SCALE_LOAD_S", "20"))
RESTART_EVERY_S = 15.0 if LOAD_S >= 60 else 7.0
RATE = 300
PROMOTIONS = 10
REPLICAS = 3
DOC = Path(__file__).resolve().parents[2] / "docs" / "production.md"
LOAD = Path(__file__).resolve().parents[1] / "helpers" / "load.py"


@dataclass(frozen=True)
class Promotion:
    version: int
    before: float  # wall time the promote call was sent
    returned: float  # wall time its answer came


def haproxy_config(frontend: int, replicas: list[int]) -> str:
    """docs/production.md's haproxy.cfg, listening on ``frontend``, in front of ``replicas``."""
    found = re.search(r"```haproxy\n(.*?)```", DOC.read_text(), re.S)
    assert found, "docs/production.md has no haproxy.cfg block"
    config = found.group(1).replace("bind :8000", f"bind 127.0.0.1:{frontend}")
    for documented, port in zip((8081, 8082, 8083), replicas, strict=True):
        config = config.replace(f"127.0.0.1:{documented} ", f"127.0.0.1:{port} ")
    return config


def _workspace(root: Path, database: str, store: ObjectStore) -> dict[str, str]:
    """``modelyard.toml`` on ``database`` and a new bucket; returns the environment its
    processes need (the S3 credentials, read through ``${VAR}``)."""
    (root / "modelyard.toml").write_text(
        f"""\
[registry]
database_url = "{database}"
artifacts = "{store.new_location()}"

[registry.storage_options]
endpoint_url = "{store.endpoint}"
key = "${{AWS_ACCESS_KEY_ID}}"
secret = "${{AWS_SECRET_ACCESS_KEY}}"

[security]
admin_key = "{ADMIN_KEY}"
"""
    )
    return {**os.environ, **store.environment}


class Replicas:
    """The ``modelyard serve`` processes, each on its own port, restartable."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.ports = [free_port() for _ in range(REPLICAS)]
        self.processes = [self._start(port) for port in self.ports]
        self.restarts: list[float] = []  # seconds from SIGTERM to ready again

    def _start(self, port: int) -> Process:
        args = ("serve", "--port", str(port), "--drain-seconds", "3")
        return Process(self.root, args, self.env)

    def wait_ready(self) -> None:
        for process, port in zip(self.processes, self.ports, strict=True):
            process.wait_ready(f"http://127.0.0.1:{port}", timeout=120)

    def restart(self, index: int) -> None:
        """SIGTERM (drain, finish, exit), then the same port again, ready."""
        began = time.monotonic()
        code = self.processes[index].terminate(timeout=60)
        # uvicorn stops gracefully, then re-raises the SIGTERM it caught
        assert code in (0, -signal.SIGTERM), self.processes[index].output()
        self.processes[index] = self._start(self.ports[index])
        self.processes[index].wait_ready(f"http://127.0.0.1:{self.ports[index]}", timeout=120)
        self.restarts.append(time.monotonic() - began)

    def kill(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
def haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        message = "haproxy is not installed: `make test` installs it (apt-get install haproxy)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_three_replicas_behind_haproxy_drop_nothing_through_restarts_and_promotions(
    postgresql_url: str, s3_store: ObjectStore, haproxy: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)
    env = _workspace(tmp_path, postgresql_url, s3_store)
    name = f"lb{uuid.uuid4().hex[:6]}"
    with Workspace.from_config(tmp_path, env=env) as ws:
        register_constants(ws, name, *range(1, PROMOTIONS + 2))
        ws.models.promote(name, 1)
        key = (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
    promotions = [Promotion(1, 0.0, time.time())]

    up_port, frontend = free_port(), free_port()
    up = Process(tmp_path, ("up", "--port", str(up_port), "--drain-seconds", "0"), env)
    worker = Process(tmp_path, ("worker",), env)
    replicas = Replicas(tmp_path, env)
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(frontend, replicas.ports))
    balancer_log = (tmp_path / "haproxy.log").open("w")
    balancer = subprocess.Popen(
        [haproxy, "-f", str(config), "-db"], stdout=balancer_log, stderr=subprocess.STDOUT
    )
    load: subprocess.Popen[bytes] | None = None
    try:
        up.wait_ready(f"http://127.0.0.1:{up_port}", timeout=120)
        replicas.wait_ready()
        base = f"http://127.0.0.1:{frontend}"
        deadline = time.monotonic() + 30
        while True:  # HAProxy up, and every replica passed its checks
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "haproxy.log").read_text()
            time.sleep(0.2)
        time.sleep(1.0)
        url = f"{base}/endpoints/{name}/score"
        answers_file = tmp_path / "answers.jsonl"
        stop = tmp_path / "stop-load"
        most = LOAD_S + 300  # the load outlasts restarts that overrun (a busy machine)
        command = [sys.executable, str(LOAD), url, key, str(RATE), str(most), str(answers_file)]
        load = subprocess.Popen([*command, str(stop)])
        began = time.monotonic()

        def promote_all() -> None:
            with httpx.Client(timeout=30) as client:
                for k in range(2, PROMOTIONS + 2):
                    due = began + (k - 1.5) * LOAD_S / PROMOTIONS
                    time.sleep(max(0.0, due - time.monotonic()))
                    before = time.time()
                    moved = client.post(
                        f"http://127.0.0.1:{up_port}/api/v1/models/{name}/promote",
                        json={"version": k},
                        headers=ADMIN,
                    )
                    promotions.append(Promotion(k, before, time.time()))
                    assert moved.status_code == 200, moved.text

        promoter = threading.Thread(target=promote_all, daemon=True)
        promoter.start()
        index = 0
        while True:
            due = began + (index + 1) * RESTART_EVERY_S
            if due > began + LOAD_S - 3:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            replicas.restart(index % REPLICAS)
            index += 1
        promoter.join(timeout=LOAD_S + 60)
        assert not promoter.is_alive(), "a promote call is stuck"
        time.sleep(max(0.0, began + LOAD_S - time.monotonic()))
        stop.touch()
        assert load.wait(timeout=120) == 0
        assert up.popen.poll() is None and worker.popen.poll() is None
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        balancer.send_signal(signal.SIGTERM)
        balancer.wait(timeout=10)
        balancer_log.close()
        replicas.kill()
        up.kill()
        worker.kill()

    answers = [json.loads(line) for line in answers_file.read_text().splitlines()]
    _check(answers, promotions, replicas.restarts)


def _check(
    answers: list[dict[str, Any]], promotions: list[Promotion], restarts: list[float]
) -> None:
    """0 failed requests; each answer from a version champion while it was in flight."""
    assert len(answers) >= int(RATE * LOAD_S * 0.95)
    failed = [a for a in answers if a["status"] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed, first: {failed[0]}"
    assert len(promotions) == PROMOTIONS + 1 and len(restarts) >= 2
    by_version = {p.version: p for p in promotions}
    for answer in answers:
        version = answer["version"]
        assert answer["prediction"] == float(version), answer
        promoted = by_version[version]
        assert promoted.before <= answer["answered"], f"v{version} answered before its promotion"
        successor = by_version.get(version + 1)
        if successor is not None:
            late = answer["sent"] - successor.returned
            assert late <= 0, (
                f"v{version} answered a request sent {late * 1000:.1f} ms after the promotion "
                f"of v{successor.version} returned"
            )
    seen = {a["version"] for a in answers}
    assert seen == set(by_version), f"versions never served: {set(by_version) - seen}"

    latencies = sorted((a["answered"] - a["sent"]) * 1000 for a in answers)
    sent = [a["sent"] for a in answers]
    calls = sorted((p.returned - p.before) * 1000 for p in promotions[1:])
    print(
        f"\nHAProxy + {REPLICAS} replicas on PostgreSQL and S3: {len(answers)} requests in "
        f"{max(sent) - min(sent):.1f} s ({len(answers) / (max(sent) - min(sent)):.0f}/s), "
        f"0 failed; latency p50 {statistics.median(latencies):.1f} ms, p99 "
        f"{latencies[int(len(latencies) * 0.99)]:.1f} ms, max {latencies[-1]:.1f} ms; "
        f"{len(restarts)} restarts (SIGTERM -> ready again: "
        f"{', '.join(f'{r:.1f} s' for r in restarts)}); {PROMOTIONS} promotions, calls median "
        f"{statistics.median(calls):.0f} ms, max {calls[-1]:.0f} ms; {len(seen)} versions served"
    )
    figures.record(
        "Rolling restart behind HAProxy (3 replicas, PostgreSQL, S3)",
        load=f"{RATE} req/s for {LOAD_S:g} s: {len(answers):,} requests",
        faults=f"a replica restarted every {RESTART_EVERY_S:g} s ({len(restarts)}), "
        f"{PROMOTIONS} promotions",
        result=(
            f"0 failed; every answer from a champion; p99 "
            f"{latencies[int(len(latencies) * 0.99)]:.1f} ms; restarts ready again in "
            f"{', '.join(f'{r:.1f}' for r in restarts)} s"
        ),
        passed=True,
    )
