"""SIGKILL a ``modelyard batch score`` at about half way on PostgreSQL, run it again with
the same job id: every key exactly once, the pipeline's own probabilities.

``make test`` runs 50,000 rows; ``make test-batch`` (BATCH_KILL_ROWS=1000000) the million.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from modelyard import Workspace
from tests.helpers.batch import (
    assert_exactly_once,
    churn_rows,
    read_sql,
    register_churn,
    unique_name,
    workspace_config,
    write_rows,
)

ROWS = int(os.environ.get("BATCH_KILL_ROWS", "50000"))
CHUNK = max(1000, ROWS // 40)


def _done(url: str, job_id: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT rows_done FROM modelyard_batch_watermarks "
                    "WHERE job_id = :j AND part = 0"
                ),
                {"j": job_id},
            ).scalar()
    except sa.exc.ProgrammingError:  # the watermark table is not there yet
        return 0
    finally:
        engine.dispose()
    return int(found or 0)


def test_sigkill_at_half_way_then_the_same_job_id_scores_every_key_exactly_once(
    tmp_path: Path, postgresql_url: str
) -> None:
    frame = churn_rows(ROWS)
    rows, out = unique_name("customers"), unique_name("scores")
    write_rows(postgresql_url, frame, rows)
    root = tmp_path / "ws"
    workspace_config(root, postgresql_url)
    with Workspace.from_config(root) as ws:
        model = register_churn(ws, frame)
    command = [
        sys.executable, "-m", "modelyard", "--workspace", str(root), "batch", "score", "churn",
        "--source", "wh", "--table", rows, "--key", "id", "--output-table", out,
        "--chunk-rows", str(CHUNK), "--job-id", "killed",
    ]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while _done(postgresql_url, "killed") < ROWS // 2:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the job never got half way"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    written = int(read_sql(postgresql_url, f"SELECT count(*) AS n FROM {out}")["n"][0])
    assert ROWS // 2 <= written < ROWS  # killed in the middle, not after the end

    again = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)

    assert again.returncode == 0, again.stderr
    assert "succeeded" in again.stdout
    duplicates = read_sql(
        postgresql_url, f"SELECT id, count(*) AS n FROM {out} GROUP BY id HAVING count(*) > 1"
    )
    assert duplicates.empty
    assert_exactly_once(read_sql(postgresql_url, f"SELECT * FROM {out}"), frame, model)
