"""``/api/v1/batch`` over real HTTP: submit (202, the version pinned), the same id again,
another spec under it (409), a worker runs it, status with progress, outputs, cancel."""

from __future__ import annotations

from pathlib import Path

import httpx

from modelyard.types import OutputKind
from tests.helpers.batch import FEATURES, churn_rows, fitted_pipeline, read_sql, write_rows
from tests.helpers.control import ADMIN, control_workspace, serving_control

API = "/api/v1/batch"


def test_submit_follow_and_read_the_outputs_of_a_batch_job(tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    url = f"sqlite:///{tmp_path / 'data.db'}"
    frame = churn_rows(900)
    write_rows(url, frame, "customers")
    model = fitted_pipeline(frame)
    ws.models.register(
        "churn", model, input_example=frame[FEATURES].head(20), output_kind=OutputKind.PROBABILITIES
    )
    ws.models.promote("churn", 1)
    body = {
        "model": "churn", "source": "immo_db", "table": "customers", "key": "id",
        "output_table": "scores", "chunk_rows": 400, "job_id": "api-1",
    }  # fmt: skip
    with serving_control(ws) as base:
        submitted = httpx.post(base + API, json=body, headers=ADMIN)
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        assert job["id"] == "api-1" and job["state"] == "queued" and job["version"] == 1
        assert submitted.headers["location"] == job["status_url"] == f"{base}{API}/api-1"
        again = httpx.post(base + API, json=body, headers=ADMIN)
        assert again.status_code == 202 and again.json()["id"] == "api-1"
        other = httpx.post(base + API, json={**body, "chunk_rows": 10}, headers=ADMIN)
        assert other.status_code == 409 and "exists with another spec" in other.json()["message"]
        bad = httpx.post(
            base + API, json={**body, "job_id": "x", "query": "SELECT 1"}, headers=ADMIN
        )
        assert bad.status_code == 400 and bad.json()["code"] == "config_invalid"

        ended = ws.queue.worker().run_once()
        assert ended is not None and ended.id == "api-1" and ended.state == "succeeded"

        status = httpx.get(job["status_url"], headers=ADMIN).json()
        assert status["state"] == "succeeded"
        assert status["progress"] == {"rows_done": 900, "rows_skipped": 0, "rows_total": 900}
        assert status["outputs"] == ["table:scores"]
        outputs = httpx.get(f"{base}{API}/api-1/outputs", headers=ADMIN).json()
        assert outputs == {"id": "api-1", "outputs": ["table:scores"]}
        listed = httpx.get(base + API, headers=ADMIN).json()
        assert [item["id"] for item in listed] == ["api-1"]
        late = httpx.post(f"{base}{API}/api-1/cancel", headers=ADMIN)
        assert late.status_code == 409 and late.json()["code"] == "conflict"
        missing = httpx.get(f"{base}{API}/nope", headers=ADMIN)
        assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"
        (tmp_path / "out").symlink_to("/tmp")
        for outside in (
            "/tmp/scores", "../scores", "file:///tmp/scores", "out/scores", "local:///tmp/x",
            "simplecache::file:///tmp/x", "a://../../tmp/x", "memory://x", "file://scores",
        ):  # fmt: skip
            where = {"job_id": "api-2", "output_table": None, "output": outside}
            refused = httpx.post(base + API, json={**body, **where}, headers=ADMIN)
            assert refused.status_code == 400, refused.text  # a symlink out counts too
            assert refused.json()["code"] == "output_outside_workspace", refused.text
        inside = {"job_id": "api-3", "output_table": None, "output": "scores/parts.parquet"}
        assert httpx.post(base + API, json={**body, **inside}, headers=ADMIN).status_code == 202
    assert read_sql(url, "SELECT count(DISTINCT id) AS n FROM scores")["n"][0] == 900
    ws.close()
