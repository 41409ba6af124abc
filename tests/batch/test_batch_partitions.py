"""``--partitions N``: key ranges scored at once, each with its own watermark, in local
processes and as Ray tasks on a real token-authenticated cluster; killing one
partition's task fails the job, and running it again scores every key exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import ExecutorUnavailable
from modelyard.workspace.root import Workspace
from tests.conftest import IN_CI, make_settings
from tests.helpers.batch import (
    assert_exactly_once,
    churn_rows,
    read_sql,
    register_churn,
    unique_name,
    write_rows,
)
from tests.helpers.ray_cluster import RayUnavailable
from tests.helpers.ray_cluster import ray_cluster as running_ray_cluster


def _workspace(root: Path, url: str, **executor: Any) -> Workspace:
    extra = {"executor": executor} if executor else {}
    registry = f"sqlite:///{root / 'registry.db'}"
    return Workspace(make_settings(root, registry, sources={"wh": {"url": url}}, **extra))


def test_two_local_partitions_each_score_their_key_range_once(
    tmp_path: Path, postgresql_url: str
) -> None:
    frame = churn_rows(6000)
    rows, out = unique_name("customers"), unique_name("scores")
    write_rows(postgresql_url, frame, rows)
    with _workspace(tmp_path, postgresql_url) as ws:
        model = register_churn(ws, frame)
        job = ws.batch.score(
            "churn", source="wh", table=rows, key="id", output_table=out, chunk_rows=1000,
            partitions=2, job_id="local-2",
        )  # fmt: skip
        assert job.status == "succeeded", job.error
        assert job.row.spec["ranges"] == [[None, 3000], [3000, None]]
        runners = job.row.spec["runners"]
        assert set(runners) == {"0", "1"} and runners["0"] != runners["1"]
        assert job.progress.done == 6000
    marks = read_sql(
        postgresql_url,
        "SELECT part, rows_done FROM modelyard_batch_watermarks WHERE job_id = 'local-2' "
        "ORDER BY part",
    )
    assert marks.to_dict("list") == {"part": [0, 1], "rows_done": [3000, 3000]}
    assert_exactly_once(read_sql(postgresql_url, f"SELECT * FROM {out}"), frame, model)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, str]]:
    try:
        with running_ray_cluster(num_cpus=2) as cluster:
            yield cluster
    except RayUnavailable as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: a Ray cluster that cannot start is a failure)")
        pytest.skip(str(exc))


def _part_rows(url: str, job_id: str, part: int) -> int:
    try:
        found = read_sql(
            url,
            "SELECT rows_done FROM modelyard_batch_watermarks "
            f"WHERE job_id = '{job_id}' AND part = {part}",
        )
    except Exception:  # the watermark table is not there yet
        return 0
    return int(found["rows_done"].iloc[0]) if len(found) else 0


def test_on_ray_killing_one_partitions_task_then_running_again_scores_each_key_once(
    tmp_path: Path, postgresql_url: str, ray_cluster: tuple[str, str]
) -> None:
    address, token = ray_cluster
    total = 40_000
    frame = churn_rows(total)
    rows, out = unique_name("customers"), unique_name("scores")
    write_rows(postgresql_url, frame, rows)
    ws = _workspace(tmp_path, postgresql_url, kind="ray", address=address, token=token)
    model = register_churn(ws, frame)
    job = ws.batch.score(
        "churn", source="wh", table=rows, key="id", output_table=out, chunk_rows=500,
        partitions=2, job_id="ray-2", wait=False,
    )  # fmt: skip
    failures: list[BaseException] = []

    def run() -> None:
        try:
            ws.batch.run("ray-2")
        except BaseException as exc:  # the killed task's error, checked below
            failures.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 300
    while _part_rows(postgresql_url, "ray-2", 1) < 2000:
        assert runner.is_alive(), failures
        assert time.monotonic() < deadline, "partition 1 never got going"
        time.sleep(0.05)
    where = job.row.spec["runners"]["1"]
    os.kill(int(where.rsplit(":", 1)[1]), signal.SIGKILL)  # the Ray worker running it
    runner.join(timeout=300)
    assert failures and isinstance(failures[0], ExecutorUnavailable)
    assert job.status == "failed" and "executor_unavailable" in (job.error or "")
    written = len(read_sql(postgresql_url, f"SELECT id FROM {out}"))
    assert written < total

    again = ws.batch.run("ray-2")

    assert again.status == "succeeded", again.error
    duplicates = read_sql(
        postgresql_url, f"SELECT id, count(*) AS n FROM {out} GROUP BY id HAVING count(*) > 1"
    )
    assert duplicates.empty
    assert_exactly_once(read_sql(postgresql_url, f"SELECT * FROM {out}"), frame, model)
    ws.close()
