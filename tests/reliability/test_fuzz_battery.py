"""schemathesis over the served Studio app's own OpenAPI document (scoring, admin API,
classic management, and whatever Studio routes it publishes; the scoring routes get "any
JSON" bodies at the workspace's ``immo`` endpoint), every operation with the admin key: no
5xx, and every 4xx a JSON error in the protocol's shape. ``make test``
sends a couple of cases per operation (tests/web/test_fuzz.py fuzzes the scoring routes
there); ``make test-reliability`` sends 1,000."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import figures
from tests.helpers.control import ADMIN
from tests.helpers.studio import Studio, serving_studio
from tests.web.test_fuzz import PROTOCOL, SCORING_ROUTES, with_any_json_bodies

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

CASES = int(figures.scale(2, 1000))


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("fuzz-battery")) as served:
        yield served


def _protocol(path: str) -> str | None:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return PROTOCOL.get(last) if path.startswith(("/endpoints/", "/v2/models/")) else None


def _problem(response: Any, path: str) -> str | None:
    """Why an answer breaks the contract, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status} {response.text[:200]}"
    if status < 400 or path.startswith("/studio"):  # Studio errors are pages
        return None
    content_type = response.headers.get("content-type") or ""
    if isinstance(content_type, list):
        content_type = content_type[0]
    if not content_type.startswith("application/json"):
        return f"{status} not JSON: {content_type}"
    body = response.json()
    if not isinstance(body, dict) or not str(body.get("message") or "").strip():
        return f"{status} no message: {str(body)[:200]}"
    protocol = _protocol(path)
    if status in (413, 429) or protocol is None:
        return None
    if protocol == "mlflow" and not body.get("error_code"):
        return f"{status} MLflow error without error_code"
    if protocol == "v2" and not str(body.get("error") or "").strip():
        return f"{status} V2 error without error"
    if protocol == "classic" and not (
        isinstance(body.get("error"), dict) and body["error"].get("code")
    ):
        return f"{status} classic error without its envelope"
    return None


def fuzz(
    operation: Any,
    studio: Studio,
    counts: dict[str, int],
    statuses: dict[int, int],
    problems: list[str],
) -> None:
    """CASES cases of ``operation``, tallied; a broken contract is noted, not raised, so
    that every operation gets its cases."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation))
    def run(case: Any) -> None:
        response = case.call(base_url=studio.base, headers=ADMIN, timeout=30)
        counts[label] = counts.get(label, 0) + 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        problem = _problem(response, operation.path)
        if problem is not None:
            problems.append(f"{label}: {problem}")

    run()


def _strategy(operation: Any) -> Any:
    """The operation's cases; a scoring route's at the ``immo`` endpoint, so that its
    bodies are read (tests/web/test_fuzz.py sends any endpoint name)."""
    if operation.path not in SCORING_ROUTES:
        return operation.as_strategy()
    fixed = {"name": "immo", **({"version": "1"} if "{version}" in operation.path else {})}
    return operation.as_strategy(path_parameters=fixed)


def test_schemathesis_on_the_served_openapi_finds_no_5xx(studio: Studio) -> None:
    document = with_any_json_bodies(httpx.get(f"{studio.base}/openapi.json").json())
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    counts: dict[str, int] = {}
    statuses: dict[int, int] = {}
    problems: list[str] = []
    started = time.monotonic()
    for operation in operations:
        fuzz(operation, studio, counts, statuses, problems)
    took = time.monotonic() - started
    total = sum(counts.values())
    fewest = min(counts.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    figures.record(
        "schemathesis on the served OpenAPI (scoring, admin, classic)",
        load=(
            f"{len(operations)} operations, up to {CASES:,} cases each "
            f"(fewest {fewest:,}, median {sorted(counts.values())[len(counts) // 2]:,}): "
            f"{total:,} cases in {took:.0f} s"
        ),
        faults="schema-driven path, query and body values (any JSON to scoring), admin key",
        result=(
            f"{server_errors} 5xx, {len(problems)} answers outside the JSON error shape; "
            f"statuses {dict(sorted(statuses.items()))}"
        ),
        passed=not problems,
    )
    assert problems == [], "\n".join(problems[:30])
