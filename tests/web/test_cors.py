"""``[serve] cors_origins`` over real HTTP: browsers' preflights are answered without the
key, listed origins get CORS headers on the fast route and the framework routes, others
get none, and a server without the setting adds no CORS headers at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.config.settings import Settings
from tests.helpers.endpoints import Served, serving_immo_and_churn

APP = "https://app.example.com"
OTHER = "https://evil.example.net"
ROW = {"data": [{"surface": 25.0}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("cors"), cors_origins=(APP,)) as served:
        yield served


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("nocors")) as served:
        yield served


def _preflight(
    base: str, origin: str, headers: str = "authorization, content-type"
) -> httpx.Response:
    return httpx.options(
        f"{base}/endpoints/immo/score",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_preflight_from_a_listed_origin_is_answered_without_the_key(served: Served) -> None:
    answer = _preflight(served.base, APP)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    assert {"GET", "POST", "OPTIONS"} <= set(
        answer.headers["access-control-allow-methods"].replace(" ", "").split(",")
    )
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_a_preflight_from_another_origin_is_refused_in_json(served: Served) -> None:
    answer = _preflight(served.base, OTHER)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    assert answer.json() == {"code": "cors_refused", "message": "Disallowed CORS origin"}


def test_the_fast_route_answers_a_listed_origin_with_cors_headers(served: Served) -> None:
    answer = httpx.post(
        f"{served.base}/endpoints/immo/score",
        json=ROW,
        headers={"Origin": APP, **served.auth("immo")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == APP
    assert "x-model-version" in answer.headers["access-control-expose-headers"]
    assert "Origin" in answer.headers["vary"]


def test_a_missing_key_is_still_401_and_readable_by_the_page(served: Served) -> None:
    answer = httpx.post(f"{served.base}/endpoints/immo/score", json=ROW, headers={"Origin": APP})
    assert answer.status_code == 401
    assert answer.json()["code"]
    assert answer.headers["access-control-allow-origin"] == APP


def test_other_origins_and_other_routes(served: Served) -> None:
    other = httpx.post(
        f"{served.base}/endpoints/immo/score",
        json=ROW,
        headers={"Origin": OTHER, **served.auth("immo")},
    )
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    v2 = httpx.get(f"{served.base}/v2/health/live", headers={"Origin": APP})
    assert v2.headers["access-control-allow-origin"] == APP


def test_without_the_setting_no_cors_headers_are_added(plain: Served) -> None:
    preflight = _preflight(plain.base, APP)
    assert preflight.status_code == 405
    assert preflight.json()["code"] == "method_not_allowed"
    scored = httpx.post(
        f"{plain.base}/endpoints/immo/score",
        json=ROW,
        headers={"Origin": APP, **plain.auth("immo")},
    )
    assert scored.status_code == 200
    assert not [k for k in scored.headers if k.lower().startswith("access-control-")]


def test_the_setting_reads_the_toml_list_and_the_environment(tmp_path: Path) -> None:
    raw = {"serve": {"cors_origins": [APP, " https://b.example "]}}
    assert Settings.from_mapping(raw, tmp_path, env={}).cors_origins == (APP, "https://b.example")
    env = {"MODELYARD_CORS_ORIGINS": f"{OTHER}, {APP}"}
    assert Settings.from_mapping(raw, tmp_path, env=env).cors_origins == (OTHER, APP)
    assert Settings.from_mapping({}, tmp_path, env={}).cors_origins == ()
