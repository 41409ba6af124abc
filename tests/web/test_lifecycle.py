"""The drain wrapper in process: readiness flips to 503, answers ask clients to reconnect."""

from __future__ import annotations

from pathlib import Path

import httpx

from modelyard import Workspace
from modelyard.web.app import create_app
from modelyard.web.lifecycle import Drain, drain_on_sigterm
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.server import running


def test_draining_reports_not_ready_and_closes_connections_but_still_scores(
    tmp_path: Path,
) -> None:
    ws = Workspace(make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}"))
    est, frame = fitted_immo()
    ws.models.register("immo", est, input_example=frame)
    ws.models.promote("immo", 1)
    key = (ws.endpoints.create("immo", model="immo").keys or {})["primary"]
    app = drain_on_sigterm(create_app(ws), delay_s=5)
    auth = {"Authorization": f"Bearer {key}"}
    with running(app) as base:  # type: ignore[arg-type]
        score = f"{base}/endpoints/immo/score"
        assert httpx.get(f"{base}/v2/health/ready").json() == {"ready": True}
        before = httpx.post(score, json={"data": [[25.0]]}, headers=auth)
        assert before.status_code == 200 and before.headers.get("connection") != "close"
        assert app.drain.begin() and not app.drain.begin()  # only the first call starts it
        ready = httpx.get(f"{base}/v2/health/ready", headers={"x-request-id": "probe"})
        assert ready.status_code == 503
        assert ready.json() == {"ready": False, "draining": True}
        assert ready.headers["x-request-id"] == "probe"
        assert httpx.get(f"{base}/v2/health/live").status_code == 200
        during = httpx.post(score, json={"data": [[25.0]]}, headers=auth)
        assert during.status_code == 200 and during.headers["connection"] == "close"
        assert during.json() == before.json()
    ws.close()


def test_a_drain_starts_once_and_never_goes_negative() -> None:
    drain = Drain(-3)
    assert drain.delay_s == 0 and not drain.draining and drain.since is None
    assert drain.begin() and drain.draining and drain.since is not None
    assert not drain.begin()
