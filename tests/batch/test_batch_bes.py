"""Azure classic BES on a model endpoint, driven by classic's own Python sample (urllib):
submit, start, poll to Finished, read the output; the endpoint's keys open it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.batch.files import read_back
from modelyard.web.app import create_app
from modelyard.workspace.root import Workspace
from tests.conftest import make_settings
from tests.helpers.batch import (
    assert_exactly_once,
    churn_rows,
    read_sql,
    register_churn,
    write_rows,
)
from tests.helpers.bes_sample import invokeBatchExecutionService
from tests.helpers.server import running

ROWS = 1500


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Workspace, str, str, object]]:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    ws = Workspace(
        make_settings(
            tmp_path, f"sqlite:///{tmp_path / 'registry.db'}", sources={"wh": {"url": url}}
        )
    )
    frame = churn_rows(ROWS)
    write_rows(url, frame, "customers")
    model = register_churn(ws, frame)
    key = (ws.endpoints.create("churn", model="churn@champion").keys or {})["primary"]
    stop = threading.Event()
    worker = ws.queue.worker(poll_s=0.1)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    with running(create_app(ws, follow_interval=0.2)) as base:
        yield ws, base, key, (frame, model, url)
    stop.set()
    thread.join(timeout=30)
    ws.close()


def test_the_classic_sample_scores_a_table_into_a_table(served: tuple) -> None:  # type: ignore[type-arg]
    _, base, key, (frame, model, url) = served
    payload = {
        "Inputs": {"input1": {"ConnectionString": "", "RelativeLocation": "table:wh/customers"}},
        "Outputs": {"output1": {"ConnectionString": "", "RelativeLocation": "table:wh/bes_scores"}},
        "GlobalParameters": {"Key": "id", "ChunkRows": 400},
    }
    outcome = invokeBatchExecutionService(f"{base}/endpoints/churn/jobs", key, payload)
    assert outcome is not None and outcome[0] == "Finished", outcome
    assert outcome[1]["output1"]["RelativeLocation"] == "table:wh/bes_scores"
    assert_exactly_once(read_sql(url, "SELECT * FROM bes_scores"), frame, model)


def test_a_query_into_files_and_the_status_names_them(served: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, base, key, (frame, model, _) = served
    payload = {
        "Inputs": {"input1": {"RelativeLocation": "table:wh"}},
        "Outputs": {"output1": {"RelativeLocation": str(tmp_path / "bes.csv")}},
        "GlobalParameters": {"Query": "SELECT * FROM customers", "Key": "id"},
    }
    outcome = invokeBatchExecutionService(f"{base}/endpoints/churn/jobs", key, payload)
    assert outcome is not None and outcome[0] == "Finished", outcome
    files = outcome[1]["output1"]["Files"]
    assert files and all(f.endswith(".csv") for f in files)
    assert_exactly_once(read_back(files).to_pandas(), frame, model)


def test_bes_needs_the_endpoints_key_and_reports_failures_and_cancels(served: tuple) -> None:  # type: ignore[type-arg]
    _, base, key, _ = served
    jobs = f"{base}/endpoints/churn/jobs?api-version=2.0"
    body = {
        "Inputs": {"input1": {"RelativeLocation": "table:wh"}},
        "Outputs": {"output1": {"RelativeLocation": "table:wh/x"}},
        "GlobalParameters": {"Query": "SELECT * FROM nowhere"},
    }
    assert httpx.post(jobs, json=body).status_code == 401
    assert httpx.post(jobs, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": f"Bearer {key}"}
    bad = httpx.post(jobs, json={"Inputs": {}}, headers=auth)
    assert bad.status_code == 400 and bad.json()["code"] == "bes_location"
    for outside in ("/tmp/bes-out", "../bes-out", "file:///tmp/bes-out", "~/bes-out"):
        where = {"Outputs": {"output1": {"RelativeLocation": outside}}}
        refused = httpx.post(jobs, json={**body, **where}, headers=auth)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "output_outside_workspace", refused.text

    failing = invokeBatchExecutionService(f"{base}/endpoints/churn/jobs", key, body)
    assert failing is not None and failing[0] == "Failed" and "query_failed" in failing[1]

    job_id = httpx.post(jobs, json=body, headers=auth).json()
    status = httpx.get(f"{base}/endpoints/churn/jobs/{job_id}", headers=auth).json()
    assert status["StatusCode"] == "NotStarted" and status["Results"] is None
    assert httpx.delete(f"{base}/endpoints/churn/jobs/{job_id}", headers=auth).status_code == 200
    status = httpx.get(f"{base}/endpoints/churn/jobs/{job_id}", headers=auth).json()
    assert status["StatusCode"] == "Cancelled"
    other = httpx.get(f"{base}/endpoints/other/jobs/{job_id}", headers=auth)
    assert other.status_code == 404
