"""Stress: SIGKILL ``modelyard batch score`` on PostgreSQL at random moments and run it
again with the same ``--job-id``, 3 times (50 in ``make test-reliability``, over as many
jobs as they take).

After every kill the output table holds exactly the rows its watermark names, no key
twice; the next run takes the job once the killed runner's heartbeat is stale and
resumes after the watermark. At the end every key of every job is there exactly once
with the pipeline's own ``predict_proba``, and ``modelyard doctor`` is clean.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.errors import JobNotFound
from tests.helpers import figures
from tests.helpers.batch import (
    assert_exactly_once,
    churn_rows,
    read_sql,
    register_churn,
    unique_name,
    workspace_config,
    write_rows,
)

ROWS = int(figures.scale(12_000, 100_000))
CHUNK = 1000
KILLS = int(figures.scale(3, 50))
STARTUP_KILLS = max(1, KILLS // 5)  # the others land once the run has committed a chunk
WINDOW_S = 0.25  # a scoring kill lands this long at most after the run's first chunk
TIMEOUT_S = 120.0


def _env() -> dict[str, str]:
    """This environment without MODELYARD_* overrides, which would redirect the workspace."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}


class Output:
    """One job's output table and its watermark, read through one engine."""

    def __init__(self, engine: sa.Engine, job_id: str, table: str) -> None:
        self.engine = engine
        self.job_id = job_id
        self.table = table

    def done(self) -> int:
        """Rows the watermark names (0 before the job's first chunk)."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    sa.text(
                        "SELECT rows_done FROM modelyard_batch_watermarks "
                        "WHERE job_id = :j AND part = 0"
                    ),
                    {"j": self.job_id},
                ).scalar()
        except sa.exc.ProgrammingError:  # the watermark table is not there yet
            return 0
        return int(found or 0)

    def rows(self) -> tuple[int, int]:
        """(rows, distinct keys) in the output table."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.text(f"SELECT count(*), count(DISTINCT id) FROM {self.table}")
                ).one()
        except sa.exc.ProgrammingError:  # the table is not there yet
            return 0, 0
        return int(row[0]), int(row[1])


def _kinds(rng: random.Random) -> Iterator[str]:
    """Where each kill aims: "startup" (before the run's first chunk, at a random share of
    the time the previous run took to reach it) or "scoring"; the first one scores, so
    that there is a time to take a share of."""
    rest = ["startup"] * STARTUP_KILLS + ["scoring"] * (KILLS - STARTUP_KILLS - 1)
    rng.shuffle(rest)
    yield from ["scoring", *rest]


@pytest.mark.slow
def test_sigkill_during_batch_scoring_then_resume_scores_every_key_exactly_once(
    tmp_path: Path, postgresql_url: str
) -> None:
    frame = churn_rows(ROWS)
    rows = unique_name("customers")
    write_rows(postgresql_url, frame, rows)
    root = tmp_path / "ws"
    workspace_config(root, postgresql_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    engine = sa.create_engine(postgresql_url)
    ws = Workspace.from_config(root)
    model = register_churn(ws, frame)
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    jobs: list[Output] = []

    def start(output: Output, log: Path) -> subprocess.Popen[str]:
        command = [
            sys.executable, "-m", "modelyard", "--workspace", str(root), "batch", "score",
            "churn", "--source", "wh", "--table", rows, "--key", "id",
            "--output-table", output.table, "--chunk-rows", str(CHUNK),
            "--job-id", output.job_id,
        ]  # fmt: skip
        with log.open("w") as out:
            return subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, text=True, env=_env()
            )

    def complete(output: Output) -> None:
        """The job succeeded with every row, each once."""
        assert output.rows() == (ROWS, ROWS) and output.done() == ROWS
        assert ws.batch.get(output.job_id).status == "succeeded"

    def finished(output: Output, log: Path) -> None:
        """A run that ended by itself: it says the job succeeded, and it did."""
        assert "succeeded" in log.read_text(), log.read_text()
        complete(output)

    rng = random.Random()
    outcomes: Counter[str] = Counter()
    states: Counter[str] = Counter()  # the job's state as each kill left it
    startup_s = 0.0
    runs = kills = 0
    output: Output | None = None
    kinds = _kinds(rng)
    kind = next(kinds)
    while kills < KILLS:
        if output is None:
            output = Output(engine, f"{prefix}-{len(jobs) + 1}", unique_name("scores"))
            jobs.append(output)
        runs += 1
        log = logs / f"run-{runs}.log"
        before = output.done()
        began = time.monotonic()
        child = start(output, log)
        if kind == "startup":
            time.sleep(rng.uniform(0, startup_s))
        else:
            while output.done() == before and child.poll() is None:
                assert time.monotonic() - began < TIMEOUT_S, f"no chunk:\n{log.read_text()}"
                time.sleep(0.01)
            startup_s = time.monotonic() - began
            time.sleep(rng.uniform(0, WINDOW_S))
        child.send_signal(signal.SIGKILL)  # nothing if it has ended
        code = child.wait(timeout=TIMEOUT_S)
        if code == 0:  # the job ended first: check it, the next kill goes to a new job
            finished(output, log)
            outcomes["job ended before the kill"] += 1
            output = None
            continue
        assert code == -signal.SIGKILL, log.read_text()
        kills += 1
        context = f"after kill {kills} ({kind}), {log.name}"
        done = output.done()
        # Exactly the rows the watermark names are in the table, each key once.
        assert output.rows() == (done, done), context
        try:
            state = ws.batch.get(output.job_id).status
        except JobNotFound:  # killed before it recorded the job: the next run creates it
            assert kind == "startup" and done == 0, context
            state = "not recorded yet"
        states[state] += 1
        assert ws.doctor().ok, context
        kind = next(kinds, "scoring")
        if state == "succeeded":  # it had ended the job: the next kill goes to a new job
            complete(output)
            outcomes["job ended, process not yet exited"] += 1
            output = None
            continue
        assert state in ("queued", "running", "not recorded yet"), f"{context}: {state}"
        if done == before:
            outcomes["before the run committed a chunk"] += 1
        elif done < ROWS:
            outcomes["while scoring"] += 1
        else:
            outcomes["after the last chunk, job not ended"] += 1

    if output is not None:  # the same --job-id once more finishes the job in hand
        runs += 1
        log = logs / f"run-{runs}.log"
        assert start(output, log).wait(timeout=TIMEOUT_S) == 0, log.read_text()
        finished(output, log)

    for job in jobs:
        duplicates = read_sql(
            postgresql_url,
            f"SELECT id, count(*) AS n FROM {job.table} GROUP BY id HAVING count(*) > 1",
        )
        assert duplicates.empty, f"{job.job_id}: {duplicates.head()}"
        assert_exactly_once(read_sql(postgresql_url, f"SELECT * FROM {job.table}"), frame, model)
    doctor = subprocess.run(
        [sys.executable, "-m", "modelyard", "--workspace", str(root), "doctor"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=_env(),
        check=False,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(r"^ok\b", doctor.stdout, re.MULTILINE), doctor.stdout
    assert ws.doctor().ok
    ws.close()
    engine.dispose()

    figures.record(
        "kill -9 during batch scoring, resumed by --job-id (PostgreSQL)",
        load=(
            f"{len(jobs)} job(s) of {ROWS:,} churn rows in chunks of {CHUNK:,} "
            f"(COPY + watermark per chunk), {runs} runs"
        ),
        faults=(
            f"SIGKILL at {KILLS} random moments ({STARTUP_KILLS} before a run's first chunk, "
            f"the others up to {WINDOW_S} s after it), each followed by a run with the same id"
        ),
        result=(
            f"after every kill the table held exactly the rows of its watermark, no key "
            f"twice; outcomes {dict(outcomes)}; job left {dict(states)}, each time taken "
            f"again by the next run of its id; every key of {len(jobs)} job(s) exactly "
            f"once, proba within 1e-6 of predict_proba; doctor clean"
        ),
        passed=True,
    )
    for path in logs.iterdir():  # killed runs say nothing; the others nothing amiss
        text = path.read_text()
        assert "Traceback" not in text and "error[" not in text, f"{path.name}: {text}"
