"""Entry-script endpoints behind a real scoring server: keys, proxying, states, logs,
restarts, redeploys and deletion (the server's own Python; environments are tested in
tests/e2e/test_entry_environments.py)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from modelyard.web.app import create_app
from tests.helpers.server import running

SCORE = """
import json, os
from azureml.core.model import Model

def init():
    global factor
    with open(Model.get_model_path("factor"), "rb") as handle:
        import pickle
        factor = pickle.load(handle)
    print("init: factor", factor, "model dir", os.environ["AZUREML_MODEL_DIR"])

def run(raw_data):
    rows = json.loads(raw_data)["data"]
    if rows == "crash":
        os._exit(7)
    return json.dumps([factor * sum(row) for row in rows])
"""

FAILING_INIT = """
def init():
    raise FileNotFoundError("no such model: churn.pkl")

def run(raw_data):
    return raw_data
"""


@dataclass(frozen=True)
class Served:
    ws: Workspace
    base: str
    root: Path

    def script(self, name: str, text: str) -> Path:
        path = self.root / f"{name}.py"
        path.write_text(text)
        return path

    def wait(self, name: str, state: str, timeout: float = 60) -> None:
        _until(lambda: self.ws.endpoints.get(name).state == state, timeout, f"{name} {state}")


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("scripts")
    ws = Workspace.init(root)
    (root / "factor.pkl").write_bytes(pickle.dumps(2.0))
    ws.models.register("factor", root / "factor.pkl", allow_pickle=True)
    (root / "factor.pkl").write_bytes(pickle.dumps(10.0))
    ws.models.register("factor", root / "factor.pkl", allow_pickle=True)
    with running(create_app(ws, follow_interval=0.2)) as base:
        yield Served(ws, base, root)
    ws.close()


def test_an_entry_script_answers_as_azureml_did_behind_its_key(served: Served) -> None:
    endpoint = served.ws.endpoints.deploy_script(
        "doubler", entry_script=served.script("doubler", SCORE), models=["factor:1"]
    )
    key = (endpoint.keys or {})["primary"]
    done = served.ws.endpoints.wait("doubler", timeout_s=60)
    assert done.state == "healthy", served.ws.endpoints.logs("doubler")
    url = f"{served.base}/endpoints/doubler/score"
    assert httpx.post(url, json={"data": [[1, 2]]}).status_code == 401
    answer = httpx.post(url, json={"data": [[1, 2], [3, 4]]}, headers=_bearer(key))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.json()) == [6.0, 14.0]  # a str answer, JSON-encoded again
    here = dataclasses.replace(endpoint, scoring_uri=url)  # the test server's port
    assert json.loads(here.predict([[1, 1]])) == [4.0]  # the SDK: run()'s answer
    assert answer.headers["x-ms-run-function-failed"] == "False"
    assert "x-request-id" in answer.headers
    health = httpx.get(f"{served.base}/endpoints/doubler/", headers=_bearer(key))
    assert (health.status_code, health.text) == (200, "Healthy")
    swagger = httpx.get(f"{served.base}/endpoints/doubler/swagger.json").json()
    assert "/score" in json.dumps(swagger["paths"])
    logs = served.ws.endpoints.logs("doubler")
    assert "init: factor 2.0" in logs and "azureml-models/factor/1" in logs


def test_an_endpoint_without_keys_needs_none_on_loopback(served: Served) -> None:
    served.ws.endpoints.deploy_script(
        "open", entry_script=served.script("open", SCORE), models=["factor:2"], auth_enabled=False
    )
    served.wait("open", "healthy")
    answer = httpx.post(f"{served.base}/endpoints/open/score", json={"data": [[1, 1]]})
    assert answer.status_code == 200 and json.loads(answer.json()) == [20.0]


def test_init_failure_is_a_failed_state_with_the_reason_and_the_traceback(
    served: Served,
) -> None:
    served.ws.endpoints.deploy_script(
        "broken", entry_script=served.script("broken", FAILING_INIT), models=["factor:1"]
    )
    done = served.ws.endpoints.wait("broken", timeout_s=60)
    assert done.state == "failed"
    assert "init() failed" in (done.state_reason or "")
    assert "no such model: churn.pkl" in (done.state_reason or "")
    assert "Traceback" in served.ws.endpoints.logs("broken")
    answer = httpx.post(
        f"{served.base}/endpoints/broken/score",
        json={"data": []},
        headers=_bearer(_key(served, "broken")),
    )
    assert answer.status_code == 503 and answer.json()["code"] == "model_unavailable"


def test_a_crashed_worker_is_restarted_and_the_endpoint_heals(served: Served) -> None:
    endpoint = served.ws.endpoints.deploy_script(
        "crashy", entry_script=served.script("crashy", SCORE), models=["factor:1"]
    )
    key = (endpoint.keys or {})["primary"]
    served.wait("crashy", "healthy")
    url = f"{served.base}/endpoints/crashy/score"
    crashed = httpx.post(url, json={"data": "crash"}, headers=_bearer(key))
    assert crashed.status_code in (502, 503), crashed.text
    assert crashed.headers["content-type"].startswith("application/json")
    _until(
        lambda: served.ws.endpoints.logs("crashy").count("worker 0 ready") == 2,
        30,
        "a restarted worker",
    )
    assert "exited with code 7" in served.ws.endpoints.logs("crashy")
    served.wait("crashy", "healthy")
    assert httpx.post(url, json={"data": [[1]]}, headers=_bearer(key)).status_code == 200


def test_a_redeploy_switches_versions_without_a_failed_request(served: Served) -> None:
    endpoint = served.ws.endpoints.deploy_script(
        "rolling", entry_script=served.script("rolling", SCORE), models=["factor:1"]
    )
    key = (endpoint.keys or {})["primary"]
    served.wait("rolling", "healthy")
    url = f"{served.base}/endpoints/rolling/score"
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(headers=_bearer(key)) as http:
            while not stop.is_set():
                reply = http.post(url, json={"data": [[1]]})
                answers.append((reply.status_code, reply.text))

    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(0.5)
        served.ws.endpoints.update_script("rolling", models=["factor:2"])
        _until(lambda: bool(answers) and answers[-1][1] == '"[10.0]"', 60, "the new version")
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert {status for status, _ in answers} == {200}
    values = [text for _, text in answers]
    assert values[0] == '"[2.0]"' and values[-1] == '"[10.0]"'
    first_new = values.index('"[10.0]"')
    assert set(values[first_new:]) == {'"[10.0]"'}  # never back to the old deployment


def test_a_deleted_endpoint_stops_answering(served: Served) -> None:
    served.ws.endpoints.deploy_script(
        "gone", entry_script=served.script("gone", SCORE), models=["factor:1"], auth_enabled=False
    )
    served.wait("gone", "healthy")
    url = f"{served.base}/endpoints/gone/score"
    assert httpx.post(url, json={"data": [[1]]}).status_code == 200
    served.ws.endpoints.delete("gone")
    _until(lambda: httpx.post(url, json={"data": [[1]]}).status_code == 404, 10, "a 404")


def test_a_worker_over_its_memory_is_restarted(served: Served) -> None:
    served.ws.endpoints.deploy_script(
        "greedy",
        entry_script=served.script("greedy", SCORE),
        models=["factor:1"],
        memory_gb=0.001,  # about 1 MB: any Python process is over it
    )
    _until(lambda: "exceeded memory_gb=0.001" in served.ws.endpoints.logs("greedy"), 30, "a kill")
    served.ws.endpoints.delete("greedy")


def test_a_model_endpoint_route_refuses_a_script_endpoint_clearly(served: Served) -> None:
    served.ws.endpoints.deploy_script(
        "plain", entry_script=served.script("plain", SCORE), models=["factor:1"]
    )
    headers = _bearer(_key(served, "plain"))
    deadline = time.monotonic() + 15  # a new endpoint is known within the follow period
    while True:
        answer = httpx.post(
            f"{served.base}/endpoints/plain/invocations", json={"inputs": [[1]]}, headers=headers
        )
        if "no endpoint named" not in answer.text or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert answer.status_code == 404
    assert "runs an entry script" in answer.json()["message"]


def _key(served: Served, name: str) -> str:
    key = served.ws.endpoints.regenerate_key(name, "primary")
    time.sleep(0.6)  # replicas re-read key hashes every 0.2 s here
    return key


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


PIDS = """
import os

def init():
    print("init in", os.getpid())

def run(raw_data):
    return {"pid": os.getpid(), "threads": os.environ["OMP_NUM_THREADS"]}
"""


def test_cpu_cores_give_one_worker_each_and_requests_are_shared(served: Served) -> None:
    served.ws.endpoints.deploy_script(
        "pair",
        entry_script=served.script("pair", PIDS),
        models=["factor:1"],
        cpu_cores=2,
        auth_enabled=False,
    )
    served.wait("pair", "healthy")
    url = f"{served.base}/endpoints/pair/score"
    answers = [httpx.post(url, content=b"{}").json() for _ in range(6)]
    assert len({a["pid"] for a in answers}) == 2  # round robin over both workers
    assert {a["threads"] for a in answers} == {"1"}  # two cores shared by two workers
    assert served.ws.endpoints.logs("pair").count("init in") == 2  # init() once per worker


def _deploy_for_browsers(served: Served, name: str, script: str) -> str:
    """Deploy ``script`` with ``AML_CORS_ORIGINS=https://app.example.com``; its primary key."""
    endpoint = served.ws.endpoints.deploy_script(
        name,
        entry_script=served.script(name, script),
        models=["factor:1"],
        environment_variables={"AML_CORS_ORIGINS": "https://app.example.com"},
    )
    done = served.ws.endpoints.wait(name, timeout_s=60)
    assert done.state == "healthy", served.ws.endpoints.logs(name)
    return (endpoint.keys or {})["primary"]


def test_a_cors_preflight_reaches_the_script_without_the_key(served: Served) -> None:
    key = _deploy_for_browsers(served, "browser", SCORE)
    url = f"{served.base}/endpoints/browser/score"
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    answer = httpx.options(url, headers=preflight)
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert answer.headers["access-control-allow-methods"] == "GET, POST"
    assert answer.headers["access-control-allow-headers"] == "authorization, content-type"
    health = httpx.options(f"{served.base}/endpoints/browser/", headers=preflight)
    assert health.status_code == 200
    assert health.headers["access-control-allow-origin"] == "https://app.example.com"
    stranger = httpx.options(url, headers={**preflight, "Origin": "https://evil.example.net"})
    assert stranger.status_code == 200
    assert "access-control-allow-origin" not in stranger.headers
    origin = {"Origin": "https://app.example.com"}
    assert httpx.post(url, json={"data": [[1]]}, headers=origin).status_code == 401
    assert httpx.get(url, headers=origin).status_code == 401
    scored = httpx.post(url, json={"data": [[1, 2]]}, headers={**origin, **_bearer(key)})
    assert scored.status_code == 200, scored.text
    assert scored.headers["access-control-allow-origin"] == "https://app.example.com"


def test_a_model_endpoint_has_no_options_route_without_cors(served: Served) -> None:
    answer = httpx.options(f"{served.base}/endpoints/nobody/score")
    assert answer.status_code == 404
    assert answer.json()["code"]


def test_a_keyless_preflight_never_runs_a_rawhttp_script(served: Served) -> None:
    """A @rawhttp run() gets OPTIONS only from a caller with the key; without one the
    worker answers the preflight itself."""
    raw = Path(__file__).parent.parent / "helpers" / "entry_scripts" / "rawhttp.py"
    key = _deploy_for_browsers(served, "raw", raw.read_text())
    url = f"{served.base}/endpoints/raw/score"
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    for forged in ({}, {"x-modelyard-anonymous": "0"}):
        keyless = httpx.options(url, headers={**preflight, **forged})
        assert (keyless.status_code, keyless.content) == (200, b"")  # run() would say so
        assert keyless.headers["access-control-allow-origin"] == "https://app.example.com"
    wrong = httpx.options(url, headers={**preflight, **_bearer("not-the-key")})
    assert (wrong.status_code, wrong.content) == (200, b"")
    keyed = httpx.options(url, headers={**preflight, **_bearer(key)})
    assert (keyed.status_code, keyed.text) == (200, "method OPTIONS")
    assert keyed.headers["access-control-allow-origin"] == "https://app.example.com"
