"""Batch scoring through the SDK on SQLite, PostgreSQL and MariaDB: every key exactly once,
the pipeline's own probabilities, the version pinned at submit, files, a worker, resuming."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.batch.files import read_back
from modelyard.errors import Conflict, InvalidInput
from tests.conftest import BACKENDS, make_settings
from tests.helpers.batch import (
    assert_exactly_once,
    churn_rows,
    execute,
    read_sql,
    register_churn,
    unique_name,
    write_rows,
)

ROWS = 3000


def source_url_of(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A database holding the input rows (and the output table) on ``backend``."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    url: str = request.getfixturevalue(f"{backend}_url")
    return url


@pytest.fixture(params=BACKENDS)
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return source_url_of(request, request.param, tmp_path)


def open_workspace(tmp_path: Path, url: str) -> Workspace:
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    return Workspace(make_settings(tmp_path, registry, sources={"wh": {"url": url}}))


@pytest.fixture
def ws(tmp_path: Path, source_url: str) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path, source_url)
    yield workspace
    workspace.close()


def test_a_table_is_scored_into_a_table_exactly_once_with_the_pipelines_probabilities(
    ws: Workspace, source_url: str
) -> None:
    frame = churn_rows(ROWS)
    rows, out = unique_name("customers"), unique_name("scores")
    write_rows(source_url, frame, rows)
    model = register_churn(ws, frame)

    job = ws.batch.score(
        "churn", source="wh", table=rows, key="id", output_table=out, chunk_rows=700, job_id="t1"
    )

    assert job.status == "succeeded", job.error
    assert job.progress.done == ROWS and job.progress.total == ROWS and job.progress.skipped == 0
    assert job.outputs == [f"table:{out}"]
    scores = read_sql(source_url, f"SELECT * FROM {out}")
    assert_exactly_once(scores, frame, model)
    assert set(scores["model_version"]) == {1} and set(scores["job_id"]) == {"t1"}
    assert scores["scored_at"].notna().all()
    assert set(scores["prediction"]) <= {0, 1}
    # Run again: the job has succeeded, nothing is written twice.
    ws.batch.score(
        "churn", source="wh", table=rows, key="id", output_table=out, chunk_rows=700, job_id="t1"
    )
    assert len(read_sql(source_url, f"SELECT id FROM {out}")) == ROWS


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_query_is_scored_into_chunk_files_each_key_once(tmp_path: Path, suffix: str) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with open_workspace(tmp_path, url) as ws:
        frame = churn_rows(ROWS)
        write_rows(url, frame, "customers")
        model = register_churn(ws, frame)
        job = ws.batch.score(
            "churn",
            source="wh",
            query="SELECT * FROM customers WHERE Age > 0",
            key="id",
            output=str(tmp_path / f"scores.{suffix}"),
            chunk_rows=1000,
        )
        assert job.status == "succeeded", job.error
        assert len(job.outputs) == 3 and all(p.endswith(f".{suffix}") for p in job.outputs)
        assert not list((tmp_path / f"scores.{suffix}").glob(".tmp-*"))
        scores = read_back(job.outputs).to_pandas()
        assert_exactly_once(scores, frame, model)


def test_the_version_is_pinned_at_submit_a_promotion_meanwhile_changes_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with open_workspace(tmp_path, url) as ws:
        frame = churn_rows(500)
        write_rows(url, frame, "customers")
        register_churn(ws, frame)
        job = ws.batch.score(
            "churn@champion", source="wh", table="customers", key="id",
            output_table="scores", wait=False,
        )  # fmt: skip
        assert job.status == "queued" and job.row.version == 1
        register_churn(ws, frame.sample(frac=1.0, random_state=1))  # v2, promoted
        ws.batch.run(job.id)
        assert job.status == "succeeded"
        assert set(read_sql(url, "SELECT model_version FROM scores")["model_version"]) == {1}


def test_a_worker_runs_a_queued_batch_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with open_workspace(tmp_path, url) as ws:
        frame = churn_rows(800)
        write_rows(url, frame, "customers")
        model = register_churn(ws, frame)
        job = ws.batch.score(
            "churn", source="wh", table="customers", key="id", output_table="scores", wait=False
        )
        ended = ws.queue.worker().run_once()
        assert ended is not None and ended.id == job.id and ended.state == "succeeded"
        assert ended.result is not None and ended.result["rows"] == 800
        assert_exactly_once(read_sql(url, "SELECT * FROM scores"), frame, model)


def test_a_failed_job_run_again_resumes_after_its_last_committed_chunk(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with open_workspace(tmp_path, url) as ws:
        frame = churn_rows(2000)
        write_rows(url, frame, "customers")
        model = register_churn(ws, frame)
        execute(url, "UPDATE customers SET Age = NULL WHERE id = 1234")
        options = {
            "source": "wh", "table": "customers", "key": "id", "output_table": "scores",
            "chunk_rows": 500, "job_id": "resume",
        }  # fmt: skip
        with pytest.raises(InvalidInput, match="id = 1234"):
            ws.batch.score("churn", **options)  # type: ignore[arg-type]
        failed = ws.batch.get("resume")
        assert failed.status == "failed" and "malformed_row" in (failed.error or "")
        assert failed.progress.done == 1000  # the two chunks before the bad row
        execute(url, "UPDATE customers SET Age = 40 WHERE id = 1234")
        frame.loc[frame["id"] == 1234, "Age"] = 40
        job = ws.batch.score("churn", **options)  # type: ignore[arg-type]
        assert job.status == "succeeded" and job.progress.done == 2000
        assert_exactly_once(read_sql(url, "SELECT * FROM scores"), frame, model)


def test_cancel_a_queued_job_and_a_second_cancel_is_a_conflict(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with open_workspace(tmp_path, url) as ws:
        frame = churn_rows(100)
        write_rows(url, frame, "customers")
        register_churn(ws, frame)
        job = ws.batch.score(
            "churn", source="wh", table="customers", key="id", output_table="s", wait=False
        )
        assert job.cancel().status == "cancelled"
        with pytest.raises(Conflict, match="nothing to cancel"):
            job.cancel()
        with pytest.raises(Conflict, match="cancelled"):
            ws.batch.run(job.id)
        assert [row.id for row in ws.batch.list()] == [job.id]
