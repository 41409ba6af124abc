"""Canary, mirror and versions by URL through a real server: each version predicts its
own number whatever the row, so every answer's ``x-model-version`` is checked against it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelyard.serving.runtime import Runtime
from modelyard.web.app import create_app
from modelyard.workspace.root import Workspace
from tests.conftest import make_settings
from tests.helpers.models import register_constants
from tests.helpers.monitoring import ADMIN_KEY
from tests.helpers.server import running

ROW = {"data": [[0.0]]}


@dataclass
class Served:
    ws: Workspace
    base: str
    key: str
    runtime: Runtime

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def serving(root: Path, **serve: object) -> Iterator[Served]:
    """Versions 1-4 of k predicting 1.0-4.0; champion v1, challenger v2; endpoint k."""
    settings = make_settings(
        root, f"sqlite:///{root / 'r.db'}", security={"admin_key": ADMIN_KEY}, serve=serve
    )
    ws = Workspace(settings)
    try:
        register_constants(ws, "k", 1.0, 2.0, 3.0, 4.0)
        ws.models.promote("k", 1)
        ws.models.promote("k", 2, alias="challenger")
        key = (ws.endpoints.create("k", model="k@champion").keys or {})["primary"]
        app = create_app(ws, follow_interval=0.2)
        with running(app) as base:
            yield Served(ws, base, key, app.state.runtime)
    finally:
        ws.close()


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _counted(served: Served, name: str) -> dict[tuple[str, ...], float]:
    """The samples of counter ``name`` on the server's /metrics, by label values in the
    order of the label names."""
    text = httpx.get(f"{served.base}/metrics").text
    return {
        tuple(v for _, v in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def _answers(
    served: Served, count: int, path: str = "/endpoints/k/score"
) -> list[tuple[str, float]]:
    """(x-model-version, prediction) of ``count`` requests over 4 keep-alive connections."""

    def batch(n: int) -> list[tuple[str, float]]:
        out = []
        with httpx.Client(base_url=served.base, headers=served.auth, timeout=60) as client:
            for _ in range(n):
                answer = client.post(path, json=ROW)
                assert answer.status_code == 200, answer.text
                out.append((answer.headers["x-model-version"], answer.json()["predictions"][0]))
        return out

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(batch, [count // 4] * 4))
    return [a for part in parts for a in part]


def test_a_90_10_split_answers_a_tenth_from_the_challenger(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        served.ws.endpoints.update("k", traffic={"champion": 90, "challenger": 10})
        _until(lambda: served.runtime.record("k").rollout.traffic != {})
        _until(lambda: served.runtime.router.followers() != {})
        _until(lambda: all(s.current for s in served.runtime.router.followers().values()))
        answers = _answers(served, 10_000)
        assert all(float(version) == value for version, value in answers)
        shares = Counter(version for version, _ in answers)
        assert set(shares) == {"1", "2"}
        assert 0.08 <= shares["2"] / len(answers) <= 0.12, shares
        canary = _counted(served, "modelyard_canary_requests_total")
        assert canary == {("champion", "k"): shares["1"], ("challenger", "k"): shares["2"]}


def test_a_full_mirror_answers_from_the_champion_and_compares_every_request(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as served:
        served.ws.endpoints.update("k", mirror={"challenger": 100})
        _until(lambda: served.runtime.record("k").rollout.mirror is not None)
        _until(lambda: any(s.current for s in served.runtime.router.followers().values()))
        answers = _answers(served, 800)
        assert set(answers) == {("1", 1.0)}  # only the champion's, none failed

        def compared() -> int:
            return sum(c.requests for c in served.ws.endpoints.comparison("k"))

        _until(lambda: compared() >= 800)
        (found,) = served.ws.endpoints.comparison("k")
        assert (found.requests, found.failed, found.rows) == (800, 0, 800)
        assert (found.answered_version, found.mirrored_alias, found.mirrored_version) == (
            1,
            "challenger",
            2,
        )
        assert found.mean_abs_diff == 1.0 and found.max_abs_diff == 1.0
        assert found.mirrored_ms_mean > 0 and found.answered_ms_mean > 0
        assert _counted(served, "modelyard_mirror_requests_total") == {
            ("challenger", "k", "compared"): 800
        }


def test_any_version_or_alias_by_url_loaded_on_first_use_within_the_budget(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, version_cache_mb=0) as served:  # room for one version at a time
        _until(lambda: served.runtime.ready)
        cache = served.runtime.router.cache
        wrong = httpx.post(
            f"{served.base}/endpoints/k/versions/3/score",
            json=ROW,
            headers={"Authorization": "Bearer wrong"},
        )
        assert wrong.status_code == 401 and cache.versions() == []  # refused before loading
        for path, version in (
            ("/endpoints/k/versions/3/score", "3"),
            ("/endpoints/k@challenger/score", "2"),
            ("/endpoints/k/versions/1/score", "1"),  # the champion itself, never cached
            ("/endpoints/k@champion/score", "1"),
        ):
            answer = httpx.post(f"{served.base}{path}", json=ROW, headers=served.auth)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["x-model-version"] == version
            assert answer.json()["predictions"] == [float(version)]
        v2 = httpx.post(
            f"{served.base}/v2/models/k/versions/4/infer",
            json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.0]}]},
            headers=served.auth,
        )
        assert v2.status_code == 200, v2.text
        assert v2.json()["model_version"] == "4" and v2.json()["outputs"][0]["data"] == [4.0]
        assert cache.versions() == [("k", 4)]  # over the budget: the older ones unloaded
        for path, code in (
            ("/endpoints/k/versions/9/score", "version_not_found"),
            ("/endpoints/k/versions/x/score", "version_not_found"),
            ("/endpoints/k@staging/score", "alias_not_found"),
            ("/endpoints/nope@challenger/score", "endpoint_not_found"),
        ):
            answer = httpx.post(f"{served.base}{path}", json=ROW, headers=served.auth)
            assert (answer.status_code, answer.json()["code"]) == (404, code), path
        assert cache.versions() == [("k", 4)]
