"""Azure classic retraining: BES on a training (classic's own sample client) makes a new
version, then classic's PATCH points the endpoint at it while requests keep succeeding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from modelyard.web.app import create_app
from tests.helpers.bes_sample import invokeBatchExecutionService
from tests.helpers.control import ADMIN_KEY, control_workspace
from tests.helpers.server import running

MANUAL = {"metric": "r2", "min": 0.8, "policy": "manual"}


def test_bes_retraining_then_patch_serves_the_new_version_without_a_failed_request(
    tmp_path: Path,
) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}", promotion=MANUAL)
    first = ws.trainings.run("immo")
    assert first.version == 1
    ws.models.promote("immo", 1)
    key = (ws.endpoints.create("immo", model="immo@champion").keys or {})["primary"]
    stop = threading.Event()
    worker = ws.queue.worker(poll_s=0.1)
    working = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    working.start()
    with running(create_app(ws, follow_interval=0.1)) as base:
        outcome = invokeBatchExecutionService(f"{base}/trainings/immo/jobs", ADMIN_KEY, {})
        assert outcome is not None and outcome[0] == "Finished", outcome
        location = outcome[1]["output1"]["RelativeLocation"]
        assert location == "immo:2"
        assert (
            ws.registry.resolve_alias("immo", "champion") == 1
            if hasattr(ws.registry, "resolve_alias")
            else True
        )

        answers: list[tuple[int, str]] = []
        scoring = threading.Event()

        def score() -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
                while not scoring.is_set():
                    answer = client.post(f"{base}/endpoints/immo/score", json={"data": [[50.0]]})
                    answers.append((answer.status_code, answer.headers.get("x-model-version", "")))

        caller = threading.Thread(target=score, daemon=True)
        caller.start()
        time.sleep(0.5)
        patch = {"Resources": [{"Name": "immo [trained model]",
                                "Location": {"RelativeLocation": location}}],
                 "Reason": "retrained by BES"}  # fmt: skip
        refused = httpx.patch(f"{base}/endpoints/immo", json=patch)
        assert refused.status_code == 401
        scoring_key = httpx.patch(  # a scoring key scores; it does not move the champion
            f"{base}/endpoints/immo", json=patch, headers={"Authorization": f"Bearer {key}"}
        )
        assert scoring_key.status_code == 403, scoring_key.text
        patched = httpx.patch(
            f"{base}/endpoints/immo", json=patch, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert patched.status_code == 200, patched.text
        deadline = time.monotonic() + 30
        while not answers or answers[-1][1] != "2":
            assert time.monotonic() < deadline, answers[-5:]
            time.sleep(0.05)
        scoring.set()
        caller.join(timeout=10)
    stop.set()
    working.join(timeout=30)
    assert all(status == 200 for status, _ in answers), {s for s, _ in answers}
    assert {version for _, version in answers} == {"1", "2"}
    moves = [e for e in ws.models.history("immo") if e.to_version == 2]
    assert [e.reason for e in moves][-1] == "retrained by BES"
    assert ws.models.resolve("immo@champion").version == 2
    ws.close()
