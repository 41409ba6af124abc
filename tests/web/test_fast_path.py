"""The plain-ASGI scoring route answers exactly what the FastAPI route answers: the same
bodies, statuses and headers, for good rows and bad ones, on a compiled and an original
model, micro-batched or not (a second server on the same workspace has no fast route)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.endpoints import Served, serving_immo_and_churn

BODIES: list[Any] = [
    {"data": [[25.0]]},
    {"data": [{"surface": 25.0}, {"surface": 40.5}]},
    {"dataframe_split": {"columns": ["surface"], "data": [[25.0]]}},
    {"inputs": {"surface": [25.0, 30.0]}},
    {"data": [[float(i)] for i in range(200)]},  # past the inline limit: a worker thread
    {"data": [["big"]]},  # 422 bad_value
    {"data": []},  # 400 empty_input
    {"data": [{"area": 1.0}]},  # 400 missing_column
    {"rows": [[1.0]]},  # 400 bad_shape
]
CHURN = [
    {"data": [{"CreditScore": 600, "Geography": "Spain", "Gender": "Male", "Age": 40,
               "Balance": 10.0}]},
    {"data": [{"CreditScore": 600, "Geography": "Mars", "Gender": "Male", "Age": 40,
               "Balance": 10.0}]},  # a category the encoder refuses: 400 model_error
]  # fmt: skip
SAME = ("content-type", "x-model-version", "x-model-name", "retry-after", "www-authenticate")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_immo_and_churn(tmp_path_factory.mktemp("fast"), framework=True) as served:
        for model in ("immo", "churn"):
            keys = served.ws.endpoints.create(f"{model}-batched", model=model, batch_max_rows=8)
            served.keys[f"{model}-batched"] = (keys.keys or {})["primary"]
            served.wait_served(f"{model}-batched")
        yield served


def _both(served: Served, model: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    """The fast route's answer and the framework's, on the endpoint and its batched twin."""
    answers = []
    extra = request.pop("headers", {})
    for endpoint in (model, f"{model}-batched"):
        for base in (served.base, served.asgi, served.framework):
            headers = {**extra, **served.auth(endpoint)}
            url = f"{base}/endpoints/{endpoint}/score"
            answers.append(httpx.post(url, headers=headers, **request, timeout=30))
    for other in answers[1:]:
        _same(answers[0], other)
    return answers[0], answers[1]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_immo_answers_match_the_framework_route(served: Served, body: Any) -> None:
    fast, slow = _both(served, "immo", json=body)
    _same(fast, slow)


@pytest.mark.parametrize("body", CHURN, ids=range(len(CHURN)))
def test_churn_answers_match_the_framework_route(served: Served, body: Any) -> None:
    fast, slow = _both(served, "churn", json=body)
    _same(fast, slow)


def test_bodies_that_are_not_json_documents_match(served: Served) -> None:
    for content in (b"", b"{not json", b"[1, 2]"):
        fast, slow = _both(
            served, "immo", content=content, headers={"Content-Type": "application/json"}
        )
        _same(fast, slow)


def test_a_body_over_the_limit_is_a_413_on_the_fast_route(tmp_path: Path) -> None:
    with serving_immo_and_churn(tmp_path, max_body_bytes=100) as served:
        body = b'{"data": [' + b"[1.0]," * 50 + b"[1.0]]}"

        def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it early
            yield body[:60]
            yield body[60:]

        answer = httpx.post(
            f"{served.base}/endpoints/immo/score", content=chunks(), headers=served.auth("immo")
        )
        assert answer.status_code == 413 and answer.json()["code"] == "payload_too_large"


def test_a_wrong_key_still_gets_the_canonical_401(served: Served) -> None:
    url = f"{served.base}/endpoints/immo/score"
    answer = httpx.post(url, json={"data": [[1.0]]}, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")


def _same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.json() == slow.json()
    for header in SAME:
        assert fast.headers.get(header) == slow.headers.get(header), header
    assert fast.headers["x-request-id"] and slow.headers["x-request-id"]
