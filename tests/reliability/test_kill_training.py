"""Stress: SIGKILL ``modelyard train`` at random moments of its run, 3 times (50 in
``make test-reliability``).

The default embedded workspace (SQLite registry, local artifact folder, a SQLite source)
must come out of every kill healthy: ``modelyard doctor`` passes, the versions are
numbered 1..n with no gap, each loads and predicts, and no blob a kill left behind is
counted as a version. The next run then trains and registers the version after the last.

A run of ``modelyard train`` runs here as a job held by its process, which heartbeats: a
killed run stays "running" (or "queued") until its heartbeat is stale, then the next run
(or worker) fails it as ``worker_lost``. The final run starts once every kill's heartbeat
is stale, and the test asserts that it failed every run the kills cut short, and that
those are the only traces of the kills.
"""

from __future__ import annotations

import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard import Workspace
from modelyard.errors import ModelNotFound
from modelyard.storage.runs import Run
from modelyard.training.journal import STAGES
from modelyard.types import RunState
from tests.helpers import figures

NAME = "immo"
ROWS = 20_000
KILLS = int(figures.scale(3, 50))
TIMEOUT_S = 120.0
STALE_S = 3 * 2.0 + 1.0  # a heartbeat older than 3 beats of 2 s is a dead process's
TRAINING = f"""
[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.{NAME}]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.ensemble.RandomForestRegressor"
params = {{ n_estimators = 30, max_depth = 8 }}
evaluation = {{ holdout = 0.2, seed = 42 }}
promotion = {{ metric = "r2", min = 0.5, policy = "latest-passing" }}
"""


def _env() -> dict[str, str]:
    """This environment without MODELYARD_* overrides, which would redirect the workspace."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}


def _cli(folder: Path, *args: str, log: Path) -> subprocess.Popen[str]:
    """``modelyard --workspace FOLDER ARGS``, the real command line, started; its output
    goes to ``log`` (a pipe nobody reads while it runs could fill up)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "modelyard", "--workspace", str(folder), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )


def _train(folder: Path, seed: int, log: Path) -> subprocess.Popen[str]:
    # Another seed per run: another artifact, so that no run finds its blob stored already.
    return _cli(folder, "train", NAME, "--param", f"random_state={seed}", log=log)


def _versions(ws: Workspace) -> list[int]:
    try:
        return [v.version for v in ws.models.versions(NAME)]
    except ModelNotFound:
        return []


def _new_run(ws: Workspace, known: set[str], *, logs: bool = True) -> Run | None:
    """The run no earlier process recorded, if this one got that far."""
    fresh = [r for r in ws.runs.list(NAME, limit=5, logs=logs) if r.id not in known]
    assert len(fresh) <= 1, fresh
    return fresh[0] if fresh else None


def _duration(run: Run) -> float:
    """Seconds from the run's record to its end."""
    assert run.finished_at is not None
    return (run.finished_at - run.created_at).total_seconds()


def _stage(run: Run) -> str:
    """The stage the run had begun last (each stage's first log line names it)."""
    begun = [line.split(":")[0] for line in run.logs.splitlines()]
    return next((word for word in reversed(begun) if word in STAGES), "start")


def _outcome(run: Run, versions: list[int], versions_now: list[int]) -> str:
    """Where a kill landed, judged by what it left behind."""
    assert versions_now[: len(versions)] == versions, "a kill changed older versions"
    added = len(versions_now) - len(versions)
    assert added in (0, 1), versions_now
    assert run.state is not RunState.FAILED, run.error
    if run.state is RunState.SUCCEEDED:
        assert added == 1 and run.version == versions_now[-1]
        return "run finished before the kill"
    stage = _stage(run)
    if added:
        assert stage in ("register", "gate"), (stage, run.logs)
        return f"{run.state.value} at {stage}, version recorded"
    assert stage != "gate", (stage, run.logs)
    return f"{run.state.value} at {stage}"


def _check_version(ws: Workspace, version: int, probe: pd.DataFrame) -> None:
    """The version's artifact loads (hash verified) and predicts a finite price."""
    model: Any = ws.models.load(f"{NAME}:{version}")
    predicted = np.asarray(model.predict(probe))
    assert predicted.shape == (len(probe),) and np.isfinite(predicted).all()


def _doctor(ws: Workspace, folder: Path, log: Path, context: str) -> int:
    """``modelyard doctor`` (the CLI) and ``ws.doctor()`` both clean; returns the notes
    (blobs of no version, temporaries of interrupted writes)."""
    cli = _cli(folder, "doctor", log=log)
    report = ws.doctor()  # while the CLI starts up
    assert cli.wait(timeout=TIMEOUT_S) == 0, f"{context}:\n{log.read_text()}"
    text = log.read_text()
    assert re.search(r"^ok\b", text, re.MULTILINE), f"{context}:\n{text}"
    assert "locked" not in text.lower(), f"{context}:\n{text}"
    assert report.ok, f"{context}: {report.findings}"
    return len(report.findings)


@pytest.mark.slow
def test_sigkill_during_training_leaves_a_healthy_registry(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    logs = tmp_path / "logs"
    logs.mkdir()
    Workspace.init(folder).close()
    with (folder / "modelyard.toml").open("a") as config:
        config.write(TRAINING)
    ws = Workspace.from_config(folder)
    ws.sources.demo_data("immo", "immo_db", ROWS)
    probe = ws.sources.read("immo_db", "SELECT surface FROM immo LIMIT 5")

    # One uninterrupted run (here, through the SDK: no seconds of imports) says how long
    # a run takes from its record to its end, and makes version 1 the champion.
    first = ws.trainings.run(NAME, params={"random_state": 0})
    assert first.state is RunState.SUCCEEDED and first.version == 1
    durations = [_duration(first)]  # of the runs that ended: the kills aim at their median
    known = {first.id}

    rng = random.Random()
    # Kill times spread over the whole run and a tenth more (the version is recorded in
    # its last hundredths): one in each KILLS-th of that span, in random order.
    shares = [1.1 * (i + rng.random()) / KILLS for i in range(KILLS)]
    rng.shuffle(shares)
    outcomes: Counter[str] = Counter()
    left: Counter[str] = Counter()  # the killed runs' states, as the kills left them
    for index, share in enumerate(shares, start=1):
        duration = statistics.median(durations)
        delay = share * duration
        versions = _versions(ws)
        log = logs / f"train-{index}.log"
        child = _train(folder, index, log)
        # The delay counts from the moment the run is recorded (the import before it
        # takes seconds, more or fewer as the machine is loaded).
        deadline = time.monotonic() + TIMEOUT_S
        while _new_run(ws, known, logs=False) is None:
            assert child.poll() is None, f"ended, no run recorded:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no run recorded:\n{log.read_text()}"
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=TIMEOUT_S) in (0, -signal.SIGKILL), log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()

        run = _new_run(ws, known)
        assert run is not None
        known.add(run.id)
        versions_now = _versions(ws)
        context = f"after kill {index} at {delay:.3f} s of a {duration:.3f} s run"
        outcomes[_outcome(run, versions, versions_now)] += 1
        left[run.state.value] += 1
        if run.state is RunState.SUCCEEDED:
            durations.append(_duration(run))
        assert versions_now == list(range(1, len(versions_now) + 1)), context
        if len(versions_now) > len(versions):
            _check_version(ws, versions_now[-1], probe)
        champion = ws.models.get(NAME)  # the champion is a recorded version
        assert champion.version in versions_now, context
        _doctor(ws, folder, logs / f"doctor-{index}.log", context)

    # One more run trains to its end and registers the version after the last; started
    # once the last kill's heartbeat is stale (3 beats of 2 s), it fails the killed runs.
    time.sleep(STALE_S)
    last = _versions(ws)[-1]
    log = logs / "train-final.log"
    child = _train(folder, KILLS + 1, log)
    assert child.wait(timeout=TIMEOUT_S) == 0, log.read_text()
    assert f"registered {NAME}:{last + 1}" in log.read_text(), log.read_text()
    final = _new_run(ws, known)
    assert final is not None and final.state is RunState.SUCCEEDED
    assert final.version == last + 1
    versions = _versions(ws)
    assert versions == list(range(1, last + 2))
    for version in versions:
        _check_version(ws, version, probe)
    assert ws.models.get(NAME).version == last + 1  # promoted: latest-passing
    notes = _doctor(ws, folder, logs / "doctor-final.log", "after the final run")
    runs = ws.runs.list(NAME, limit=KILLS + 10, logs=False)
    states = Counter(r.state.value for r in runs)
    lost_runs = [r for r in runs if r.state is RunState.FAILED]
    ws.close()

    # The runs the kills cut short were failed as worker_lost; nothing else failed.
    finished = outcomes["run finished before the kill"]
    assert states[RunState.SUCCEEDED.value] == 2 + finished  # the measured and final runs
    unfinished = left[RunState.QUEUED.value] + left[RunState.RUNNING.value]
    assert unfinished == KILLS - finished
    assert states[RunState.FAILED.value] == unfinished, states
    assert states.total() == 2 + KILLS
    assert all((r.error or "").startswith("worker_lost") for r in lost_runs), [
        r.error for r in lost_runs
    ]
    figures.record(
        "kill -9 during training (SQLite, local folder)",
        load=(
            f"`modelyard train` of a random forest on {ROWS:,} rows "
            f"({statistics.median(durations):.2f} s a run)"
        ),
        faults=f"SIGKILL at {KILLS} random moments spread over the run (and a tenth more)",
        result=(
            f"doctor clean {KILLS}/{KILLS} (CLI and SDK); outcomes {dict(outcomes)}; "
            f"{len(versions)} versions numbered 1..{len(versions)}, each loads, no orphan "
            f"counted as one ({notes} leftovers noted by doctor); killed runs failed as "
            f"worker_lost by the next run: {unfinished}/{unfinished}; next run registered "
            f"v{last + 1}"
        ),
        passed=True,
    )
    for path in logs.iterdir():  # killed children say nothing; the others nothing amiss
        text = path.read_text()
        assert "Traceback" not in text and "locked" not in text.lower(), f"{path.name}: {text}"
