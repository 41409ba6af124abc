"""The admin API over real HTTP: retraining by web service (seed 000), runs, promotions,
endpoints, schedules, and the refusals that keep browsers of other sites out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from tests.conftest import _empty
from tests.helpers.control import ADMIN, bearer, control_workspace, serving_control

API = "/api/v1"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}")
    yield workspace
    workspace.close()


def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(check) or not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_triggered_run_is_followed_to_its_end(db_url: str, tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, db_url)
    with serving_control(ws) as base:
        url = f"{base}{API}/trainings/immo/runs"
        first = httpx.post(url, headers={**ADMIN, "Idempotency-Key": "nightly-1"}, json={})
        assert first.status_code == 202, first.text
        body = first.json()
        assert body["created"] is True and body["state"] == "queued"
        assert first.headers["location"] == body["status_url"]
        assert body["status_url"] == f"{base}{API}/runs/{body['run_id']}"
        again = httpx.post(url, headers={**ADMIN, "Idempotency-Key": "nightly-1"})
        assert again.status_code == 202 and again.json()["run_id"] == body["run_id"]
        assert again.json()["created"] is False and again.headers["idempotent-replayed"] == "true"
        other = httpx.post(
            url, headers={**ADMIN, "Idempotency-Key": "nightly-1"}, json={"params": {"n": 1}}
        )
        assert other.status_code == 409 and other.json()["code"] == "conflict"

        worker = ws.queue.worker()
        states = []
        while True:
            status = httpx.get(body["status_url"], headers=ADMIN).json()
            states.append(status["state"])
            if status["state"] in ("succeeded", "failed", "cancelled"):
                break
            assert worker.run_once() is not None
        assert states == ["queued", "succeeded"]
        assert status["trigger"] == "api" and status["actor"] == "admin"
        assert status["version"] == 1 and status["metrics"]["r2"] > 0.8
        assert status["decision"]["outcome"] == "promote"
        logs = httpx.get(status["logs_url"], headers=ADMIN)
        assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
        assert "fit" in logs.text and "gate" in logs.text
        champion = httpx.get(f"{base}{API}/models/immo", headers=ADMIN).json()
        assert champion["aliases"] == {"champion": 1}
        listed = httpx.get(f"{base}{API}/runs", params={"training": "immo"}, headers=ADMIN)
        assert [r["id"] for r in listed.json()] == [body["run_id"]]
    ws.close()


def test_a_hundred_concurrent_triggers_with_one_key_start_one_run(
    postgresql_url: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)
    ws = control_workspace(tmp_path, postgresql_url)
    with serving_control(ws) as base:
        url = f"{base}{API}/trainings/immo/runs"

        def trigger(_: int) -> httpx.Response:  # a hundred clients, each its own connection
            headers = {**ADMIN, "Idempotency-Key": "deploy-42"}
            return httpx.post(url, headers=headers, json={}, timeout=60)

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(trigger, range(100)))
    assert {a.status_code for a in answers} == {202}, {a.text for a in answers}
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert sum(a.json()["created"] for a in answers) == 1
    (run,) = ws.runs.list("immo")
    assert run.id == answers[0].json()["run_id"] and run.state.value == "queued"
    assert ws.queue.worker().run_once() is not None
    assert ws.queue.worker().run_once() is None  # one job, one run
    ws.close()


def test_cancelling_runs(ws: Workspace) -> None:
    with serving_control(ws) as base:
        queued = httpx.post(f"{base}{API}/trainings/immo/runs", headers=ADMIN).json()
        cancel = f"{base}{API}/runs/{queued['run_id'][:8]}/cancel"
        done = httpx.post(cancel, headers=ADMIN)
        assert done.status_code == 200 and done.json()["state"] == "cancelled"
        assert ws.queue.worker().run_once() is None
        twice = httpx.post(cancel, headers=ADMIN)
        assert twice.status_code == 409 and "nothing to cancel" in twice.json()["message"]
        missing = httpx.get(f"{base}{API}/runs/0123456789abcdef", headers=ADMIN)
        assert missing.status_code == 404 and missing.json()["code"] == "run_not_found"


def test_promote_rollback_approve_and_history(ws: Workspace) -> None:
    for _ in range(2):
        ws.trainings.run("immo")  # versions 1 and 2, each promoted in turn
    rows = ws.sources.read("immo_db", "SELECT surface FROM immo LIMIT 5")
    ws.models.register("immo", ws.models.load("immo:2"), input_example=rows)
    ws.registry.mark_pending("immo", 3)  # as require_approval holds a passing version
    with serving_control(ws) as base:
        models = f"{base}{API}/models/immo"
        promoted = httpx.post(
            f"{models}/promote", json={"version": 1, "reason": "back to basics"}, headers=ADMIN
        )
        assert promoted.status_code == 200, promoted.text
        event = promoted.json()["event"]
        assert (event["kind"], event["from_version"], event["to_version"]) == ("promoted", 2, 1)
        assert event["reason"] == "back to basics" and event["actor"] == "admin"
        noop = httpx.post(f"{models}/promote", json={"version": 1}, headers=ADMIN).json()
        assert noop == {"moved": False, "event": None}
        pending = httpx.post(f"{models}/promote", json={"version": 3}, headers=ADMIN)
        assert pending.status_code == 409 and "awaits approval" in pending.json()["message"]
        rolled = httpx.post(f"{models}/rollback", headers=ADMIN).json()["event"]
        assert (rolled["kind"], rolled["to_version"]) == ("rolled_back", 2)
        approved = httpx.post(f"{models}/approve", json={"version": 3}, headers=ADMIN)
        assert approved.status_code == 200 and approved.json()["event"]["to_version"] == 3
        version = httpx.get(f"{models}/versions/3", headers=ADMIN).json()
        assert version["aliases"] == ["champion"] and version["status"] == "ready"
        assert version["signature"]["inputs"][0]["name"] == "surface"
        trained = httpx.get(f"{models}/versions/2", headers=ADMIN).json()
        assert trained["has_profile"] and trained["lineage"]["rows"] == 300
        history = httpx.get(f"{models}/history", params={"alias": "champion"}, headers=ADMIN)
        kinds = [e["kind"] for e in history.json()]
        assert kinds[-3:] == ["promoted", "rolled_back", "promoted"]
        shown = httpx.get(models, headers=ADMIN).json()
        assert [v["version"] for v in shown["versions"]] == [1, 2, 3]
        assert shown["aliases"] == {"champion": 3}
        unknown = httpx.post(f"{models}/promote", json={"version": 9}, headers=ADMIN)
        assert unknown.status_code == 404 and unknown.json()["code"] == "version_not_found"
        invalid = httpx.post(f"{models}/promote", json={"version": "x"}, headers=ADMIN)
        assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_request"


def test_endpoints_crud_and_key_regeneration(ws: Workspace) -> None:
    ws.trainings.run("immo")
    ws.trainings.run("immo")  # champion: version 2
    with serving_control(ws) as base:
        made = httpx.post(
            f"{base}{API}/endpoints", json={"name": "prices", "model": "immo"}, headers=ADMIN
        )
        assert made.status_code == 201, made.text
        created = made.json()
        assert made.headers["location"] == f"{base}{API}/endpoints/prices"
        assert created["scoring_uri"] == f"{base}/endpoints/prices/score"
        keys = created["keys"]
        assert set(keys) == {"primary", "secondary"}

        def served_version(key: str) -> str | int:
            answer = httpx.post(
                created["scoring_uri"], json={"data": [[40.0]]}, headers=bearer(key)
            )
            return (
                answer.headers["x-model-version"]
                if answer.status_code == 200
                else answer.status_code
            )

        # a new endpoint is known to the data plane within the follow period
        _until(lambda: served_version(keys["primary"]) == "2")
        again = httpx.post(
            f"{base}{API}/endpoints", json={"name": "prices", "model": "immo"}, headers=ADMIN
        )
        assert again.status_code == 409
        listed = httpx.get(f"{base}{API}/endpoints", headers=ADMIN).json()
        assert [e["name"] for e in listed] == ["prices"] and "keys" not in listed[0]
        shown = httpx.get(f"{base}{API}/endpoints/prices", headers=ADMIN).json()
        assert shown["target"] == "immo" and "keys" not in shown

        patched = httpx.patch(
            f"{base}{API}/endpoints/prices", json={"model": "immo:1"}, headers=ADMIN
        )
        assert patched.status_code == 200 and patched.json()["target"] == "immo:1"
        _until(lambda: served_version(keys["primary"]) == "1")
        bad_ref = httpx.patch(
            f"{base}{API}/endpoints/prices", json={"model": "im mo"}, headers=ADMIN
        )
        assert bad_ref.status_code == 400

        fresh = httpx.post(
            f"{base}{API}/endpoints/prices/keys/regenerate", json={"slot": "primary"}, headers=ADMIN
        ).json()
        assert fresh["slot"] == "primary" and fresh["key"] != keys["primary"]
        _until(lambda: served_version(keys["primary"]) == 401)
        assert served_version(fresh["key"]) == "1"
        assert served_version(keys["secondary"]) == "1"
        wrong_slot = httpx.post(
            f"{base}{API}/endpoints/prices/keys/regenerate", json={"slot": "third"}, headers=ADMIN
        )
        assert wrong_slot.status_code == 422

        gone = httpx.delete(f"{base}{API}/endpoints/prices", headers=ADMIN)
        assert gone.status_code == 204
        _until(lambda: served_version(fresh["key"]) == 404)
        missing = httpx.get(f"{base}{API}/endpoints/prices", headers=ADMIN)
        assert missing.status_code == 404 and missing.json()["code"] == "endpoint_not_found"


def test_schedules_list_pause_and_resume(ws: Workspace) -> None:
    ws.queue.sync_schedules()
    with serving_control(ws) as base:
        (listed,) = httpx.get(f"{base}{API}/schedules", headers=ADMIN).json()
        assert listed["training"] == "immo" and listed["schedule"] == "every 1h"
        assert listed["paused"] is False and listed["next_fire_at"].endswith("Z")
        paused = httpx.post(f"{base}{API}/schedules/immo/pause", headers=ADMIN).json()
        assert paused["paused"] is True
        assert ws.queue.schedules.list()[0].paused
        resumed = httpx.post(f"{base}{API}/schedules/immo/resume", headers=ADMIN).json()
        assert resumed["paused"] is False
        unknown = httpx.post(f"{base}{API}/schedules/nope/pause", headers=ADMIN)
        assert (
            unknown.status_code == 404 and "no training named 'nope'" in unknown.json()["message"]
        )
        trainings = httpx.get(f"{base}{API}/trainings", headers=ADMIN).json()
        assert trainings[0]["schedule"] == "every 1h"
        assert trainings[0]["promotion"] == {
            "policy": "latest-passing",
            "metric": "r2",
            "threshold": 0.8,
            "margin": 0.0,
            "require_approval": False,
        }


def test_foreign_origins_and_unknown_host_names_are_refused(ws: Workspace) -> None:
    with serving_control(ws) as base:
        url = f"{base}{API}/models"
        port = base.rsplit(":", 1)[1]
        assert httpx.get(url, headers={**ADMIN, "Origin": base}).status_code == 200
        for origin in ("https://evil.example", "null", f"http://localhost:{port}", base + "1"):
            refused = httpx.post(
                f"{base}{API}/trainings/immo/runs", headers={**ADMIN, "Origin": origin}
            )
            assert refused.status_code == 403, origin
            assert refused.json()["code"] == "forbidden" and "origin" in refused.json()["message"]
        assert ws.runs.list() == []  # nothing was queued by a refused call
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
            refused = httpx.get(url, headers={**ADMIN, "Host": host})
            assert refused.status_code == 403 and "Host" in refused.json()["message"]
        for host in (f"localhost:{port}", f"[::1]:{port}", "127.0.0.1"):
            assert httpx.get(url, headers={**ADMIN, "Host": host}).status_code == 200, host
        # the checks guard the admin API; scoring stays callable from any page with a key
        ready = httpx.get(f"{base}/v2/health/ready", headers={"Origin": "https://app.example"})
        assert ready.status_code == 200


def test_the_openapi_document_shows_the_admin_api(ws: Workspace) -> None:
    with serving_control(ws) as base:
        document = httpx.get(f"{base}/openapi.json").json()
        assert "admin key" in document["components"]["securitySchemes"]
        trigger = document["paths"]["/api/v1/trainings/{name}/runs"]["post"]
        assert trigger["security"] == [{"admin key": []}]
        assert any(p["name"] == "idempotency-key" for p in trigger["parameters"])
        assert httpx.get(f"{base}/docs").status_code == 200


def test_ids_and_limits_past_what_sql_stores_are_a_422_not_a_500(ws: Workspace) -> None:
    # found by the battery's schemathesis run: SQLite cannot compare a 2**64 id
    with serving_control(ws) as base:
        for path in (
            "/api/v1/events?after=18446744073709551616",
            "/api/v1/events?after=-1",
            "/api/v1/batch?limit=-99999999999999999999999",
            "/api/v1/batch?limit=0",
        ):
            answer = httpx.get(base + path, headers=ADMIN)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.json()["code"] == "invalid_request", answer.text
        assert (
            httpx.get(base + "/api/v1/events?after=9223372036854775807", headers=ADMIN).json() == []
        )
        assert httpx.get(base + "/api/v1/batch?limit=10000", headers=ADMIN).json() == []
