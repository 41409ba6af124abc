"""``/metrics`` of a real ``modelyard serve --workers 2``, read with prometheus-client's own
text parser: after N requests of each status the counters say N whichever worker answers
the scrape (once each worker's tally has been added, within ``FLUSH_S``); and who may
scrape it."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelyard import Workspace
from modelyard.monitoring.tally import FLUSH_S
from modelyard.web.app import create_app
from tests.cli.test_cli import cli
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.monitoring import ADMIN, ADMIN_KEY
from tests.helpers.processes import started
from tests.helpers.server import free_port, running

N = 12


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    config = tmp_path / "modelyard.toml"
    text = config.read_text().replace("[security]\n", f'[security]\nadmin_key = "{ADMIN_KEY}"\n')
    config.write_text(text)
    return tmp_path


def test_counters_equal_the_requests_of_each_status_across_two_workers(root: Path) -> None:
    with Workspace.from_config(root, env={}) as ws:
        model, frame = fitted_immo()
        ws.models.register("immo", model, input_example=frame)
        ws.models.promote("immo", 1)
        key = (ws.endpoints.create("immo", model="immo@champion").keys or {})["primary"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    private = root / "tmp"  # this server's temporary folder alone: other tests serve too
    private.mkdir()
    env = {"TMPDIR": str(private)}
    with started(root, "serve", "--port", str(port), "--workers", "2", env=env) as server:
        server.wait_ready(base, timeout=240)
        (folder,) = private.glob("modelyard-metrics-*")
        assert folder.is_dir()  # the workers' metric files, removed when serve exits
        good = {"Authorization": f"Bearer {key}"}
        sent = [
            ("immo", {"data": [[25.0]]}, good, 200),
            ("immo", {"data": [[25.0]]}, {"Authorization": "Bearer wrong"}, 401),
            ("immo", {"data": [["big"]]}, good, 422),
            ("nope", {"data": [[25.0]]}, good, 404),
        ]
        for name, body, headers, status in sent:
            for _ in range(N):  # a connection each: the two workers share them
                answer = httpx.post(f"{base}/endpoints/{name}/score", json=body, headers=headers)
                assert answer.status_code == status, answer.text
        expected = {
            ("immo", "1", "azureml", "200"): N,
            ("immo", "", "azureml", "401"): N,
            ("immo", "", "azureml", "422"): N,
            ("(unknown)", "", "azureml", "404"): N,
        }

        def counted(text: str) -> Counter[tuple[str, ...]]:
            return Counter(
                {
                    (s["endpoint"], s["version"], s["protocol"], s["status"]): v
                    for s, v in _samples(text, "modelyard_requests_total")
                }
            )

        # a worker adds its counts to the shared files every FLUSH_S (and before answering
        # a scrape itself): the other worker's last requests may take that long to show
        deadline = time.monotonic() + 10 * FLUSH_S
        while counted(httpx.get(f"{base}/metrics").text) != expected:
            assert time.monotonic() < deadline, "the counts did not settle"
            time.sleep(FLUSH_S / 5)
        for _ in range(6):  # each scrape is answered by either worker: all see the same sums
            text = httpx.get(f"{base}/metrics").text
            assert counted(text) == expected
            latency = _samples(text, "modelyard_request_duration_seconds_count")
            assert sum(v for _, v in latency) == 4 * N
            sizes = _samples(text, "modelyard_request_body_bytes_count")
            assert sum(v for _, v in sizes) == 4 * N
            in_use = _samples(text, "modelyard_version_in_use")
            assert ({"endpoint": "immo", "alias": "champion"}, 1.0) in in_use
            assert _samples(text, "modelyard_collection_dropped_total") == [({}, 0.0)]
            assert [v for _, v in _samples(text, "modelyard_requests_in_flight")] == [0.0]
        assert server.terminate() in (0, -15)
    assert not folder.exists()


def test_metrics_need_the_admin_key_beyond_loopback_unless_public(tmp_path: Path) -> None:
    for public in (False, True):
        root = tmp_path / str(public)
        root.mkdir()
        settings = make_settings(
            root,
            f"sqlite:///{root / 'r.db'}",
            security={"admin_key": ADMIN_KEY},
            serve={"metrics_public": public},
        )
        ws = Workspace(settings)
        try:
            with running(create_app(ws, follow_interval=0.2)) as base:
                assert httpx.get(f"{base}/metrics").status_code == 200  # loopback
                remote = {"X-Forwarded-For": "203.0.113.7"}  # as a proxy on loopback says
                answer = httpx.get(f"{base}/metrics", headers=remote)
                if public:
                    assert answer.status_code == 200
                else:
                    assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
                    assert "metrics_public" in answer.json()["message"]
                    admin = httpx.get(f"{base}/metrics", headers={**remote, **ADMIN})
                    assert admin.status_code == 200 and "modelyard_requests" in admin.text
        finally:
            ws.close()
