"""Every route of the control app, walked: admin routes need the admin key or a personal
token (401 without a key, 403 with an endpoint's score key) and the role each route needs,
scoring routes take the endpoint's key, public routes need none, and a route nobody
classified fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from modelyard import Workspace
from modelyard.batch.spec import BatchSpec
from modelyard.types import Role
from modelyard.web.admin.app import create_control_app
from tests.helpers.control import ADMIN, bearer, control_workspace
from tests.helpers.server import running


@dataclass(frozen=True)
class Call:
    """A concrete request for one route."""

    path: str
    body: Any = None


SCORE = {"data": [[50.0]]}
V2 = {"inputs": [{"name": "surface", "shape": [1, 1], "datatype": "FP64", "data": [50.0]}]}
CLASSIC = {"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [[50.0]]}}}
BATCH = {"model": "immo", "source": "immo_db", "table": "immo", "key": "surface",
         "output_table": "immo_scores", "job_id": "walk-submit"}  # fmt: skip
BES = {
    "Inputs": {"input1": {"RelativeLocation": "table:immo_db/immo"}},
    "Outputs": {"output1": {"RelativeLocation": "table:immo_db/immo_bes"}},
    "GlobalParameters": {"Key": "surface"},
}
MLFLOW = {"dataframe_split": {"columns": ["surface"], "data": [[50.0]]}}

# Answer without any key: documentation, liveness and readiness, the swagger of an endpoint.
PUBLIC: dict[tuple[str, str], Call] = {
    ("GET", "/openapi.json"): Call("/openapi.json"),
    ("HEAD", "/openapi.json"): Call("/openapi.json"),
    ("GET", "/docs"): Call("/docs"),
    ("HEAD", "/docs"): Call("/docs"),
    ("GET", "/docs/oauth2-redirect"): Call("/docs/oauth2-redirect"),
    ("HEAD", "/docs/oauth2-redirect"): Call("/docs/oauth2-redirect"),
    ("GET", "/v2/health/live"): Call("/v2/health/live"),
    ("GET", "/v2/health/ready"): Call("/v2/health/ready"),
    ("GET", "/v2"): Call("/v2"),
    # Prometheus: without a key from loopback (these tests' address), else the admin key
    ("GET", "/metrics"): Call("/metrics"),
    ("GET", "/endpoints/{name}/swagger.json"): Call("/endpoints/immo/swagger.json"),
    # CORS preflights, which browsers send without a key: forwarded to an entry script,
    # a JSON 405 for a model endpoint (the server's cors_origins answers those)
    ("OPTIONS", "/endpoints/{name}/score"): Call("/endpoints/immo/score"),
    ("OPTIONS", "/endpoints/{name}/"): Call("/endpoints/immo/"),
    # the Open Inference catch-all: a JSON 404 for the routes it does not serve
    ("GET", "/v2/{path:path}"): Call("/v2/repository/index"),
    ("POST", "/v2/{path:path}"): Call("/v2/repository/index", {}),
    ("PUT", "/v2/{path:path}"): Call("/v2/repository/index", {}),
    ("DELETE", "/v2/{path:path}"): Call("/v2/repository/index"),
}

# Data plane: the endpoint's own key (primary or secondary) opens them.
SCORING: dict[tuple[str, str], Call] = {
    ("POST", "/endpoints/{name}/score"): Call("/endpoints/immo/score", SCORE),
    ("POST", "/endpoints/{name}/versions/{version}/score"): Call(
        "/endpoints/immo/versions/2/score", SCORE
    ),
    ("GET", "/endpoints/{name}/"): Call("/endpoints/immo/"),
    ("HEAD", "/endpoints/{name}/"): Call("/endpoints/immo/"),
    ("GET", "/endpoints/{name}/score"): Call("/endpoints/immo/score"),
    ("POST", "/endpoints/{name}/invocations"): Call("/endpoints/immo/invocations", MLFLOW),
    ("GET", "/endpoints/{name}/ping"): Call("/endpoints/immo/ping"),
    ("GET", "/endpoints/{name}/health"): Call("/endpoints/immo/health"),
    ("GET", "/endpoints/{name}/version"): Call("/endpoints/immo/version"),
    ("POST", "/endpoints/{name}/execute"): Call("/endpoints/immo/execute?api-version=2.0", CLASSIC),
    ("POST", "/endpoints/{name}/jobs"): Call("/endpoints/immo/jobs?api-version=2.0", BES),
    ("POST", "/endpoints/{name}/jobs/{job_id}/start"): Call("/endpoints/immo/jobs/bes-walk/start"),
    ("GET", "/endpoints/{name}/jobs/{job_id}"): Call("/endpoints/immo/jobs/bes-walk"),
    ("DELETE", "/endpoints/{name}/jobs/{job_id}"): Call("/endpoints/immo/jobs/bes-walk"),
    ("GET", "/v2/models/{name}"): Call("/v2/models/immo"),
    ("GET", "/v2/models/{name}/versions/{version}"): Call("/v2/models/immo/versions/2"),
    ("GET", "/v2/models/{name}/ready"): Call("/v2/models/immo/ready"),
    ("GET", "/v2/models/{name}/versions/{version}/ready"): Call("/v2/models/immo/versions/2/ready"),
    ("POST", "/v2/models/{name}/infer"): Call("/v2/models/immo/infer", V2),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): Call(
        "/v2/models/immo/versions/2/infer", V2
    ),
}

# Control plane: the admin key only. "{run}" is replaced by a queued run's id; the
# destructive calls aim at the endpoint "spare", and DELETE runs last.
ADMIN_ROUTES: dict[tuple[str, str], Call] = {
    ("GET", "/api/v1/trainings"): Call("/api/v1/trainings"),
    ("GET", "/api/v1/trainings/{name}"): Call("/api/v1/trainings/immo"),
    ("POST", "/api/v1/trainings/{name}/runs"): Call("/api/v1/trainings/immo/runs", {}),
    ("GET", "/api/v1/runs"): Call("/api/v1/runs"),
    ("GET", "/api/v1/runs/{run_id}"): Call("/api/v1/runs/{run}"),
    ("GET", "/api/v1/runs/{run_id}/logs"): Call("/api/v1/runs/{run}/logs"),
    ("POST", "/api/v1/runs/{run_id}/cancel"): Call("/api/v1/runs/{run}/cancel"),
    ("GET", "/api/v1/models"): Call("/api/v1/models"),
    ("GET", "/api/v1/models/{name}"): Call("/api/v1/models/immo"),
    ("GET", "/api/v1/models/{name}/versions/{version}"): Call("/api/v1/models/immo/versions/1"),
    ("POST", "/api/v1/models/{name}/promote"): Call("/api/v1/models/immo/promote", {"version": 2}),
    ("POST", "/api/v1/models/{name}/rollback"): Call("/api/v1/models/spare/rollback", {}),
    ("POST", "/api/v1/models/{name}/approve"): Call("/api/v1/models/held/approve", {"version": 1}),
    ("GET", "/api/v1/models/{name}/history"): Call("/api/v1/models/immo/history"),
    ("POST", "/api/v1/endpoints"): Call("/api/v1/endpoints", {"name": "new", "model": "immo"}),
    ("GET", "/api/v1/endpoints"): Call("/api/v1/endpoints"),
    ("GET", "/api/v1/endpoints/{name}"): Call("/api/v1/endpoints/immo"),
    ("PATCH", "/api/v1/endpoints/{name}"): Call("/api/v1/endpoints/spare", {"model": "immo:1"}),
    ("GET", "/api/v1/endpoints/{name}/logs"): Call("/api/v1/endpoints/immo/logs"),
    ("DELETE", "/api/v1/endpoints/{name}"): Call("/api/v1/endpoints/spare"),
    ("POST", "/api/v1/endpoints/{name}/keys/regenerate"): Call(
        "/api/v1/endpoints/spare/keys/regenerate", {"slot": "secondary"}
    ),
    ("POST", "/api/v1/models/{name}/reject"): Call("/api/v1/models/held/reject", {"version": 2}),
    ("GET", "/api/v1/endpoints/{name}/samples"): Call("/api/v1/endpoints/immo/samples"),
    ("GET", "/api/v1/me"): Call("/api/v1/me"),
    ("GET", "/api/v1/me/tokens"): Call("/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"): Call("/api/v1/me/tokens", {}),
    ("POST", "/api/v1/me/tokens/{token_id}/revoke"): Call("/api/v1/me/tokens/{token}/revoke"),
    ("GET", "/api/v1/users"): Call("/api/v1/users"),
    ("POST", "/api/v1/users"): Call("/api/v1/users", {"name": "newbie", "role": "viewer"}),
    ("PATCH", "/api/v1/users/{name}"): Call("/api/v1/users/walker", {"role": "scientist"}),
    ("POST", "/api/v1/users/{name}/tokens"): Call("/api/v1/users/walker/tokens", {}),
    ("POST", "/api/v1/users/{name}/tokens/{token_id}/revoke"): Call(
        "/api/v1/users/walker/tokens/{token}/revoke"
    ),
    ("GET", "/api/v1/audit"): Call("/api/v1/audit"),
    ("GET", "/api/v1/schedules"): Call("/api/v1/schedules"),
    ("POST", "/api/v1/schedules/{training}/pause"): Call("/api/v1/schedules/immo/pause"),
    ("POST", "/api/v1/schedules/{training}/resume"): Call("/api/v1/schedules/immo/resume"),
    ("GET", "/api/v1/endpoints/{name}/monitoring"): Call("/api/v1/endpoints/immo/monitoring"),
    ("GET", "/api/v1/endpoints/{name}/comparison"): Call("/api/v1/endpoints/immo/comparison"),
    ("POST", "/api/v1/endpoints/{name}/feedback"): Call(
        "/api/v1/endpoints/immo/feedback", {"labels": [{"request_id": "r", "label": 1.0}]}
    ),
    ("GET", "/api/v1/events"): Call("/api/v1/events"),
    ("GET", "/api/v1/collection"): Call("/api/v1/collection"),
    ("POST", "/api/v1/batch"): Call("/api/v1/batch", BATCH),
    ("GET", "/api/v1/batch"): Call("/api/v1/batch"),
    ("GET", "/api/v1/batch/{job_id}"): Call("/api/v1/batch/walk"),
    ("GET", "/api/v1/batch/{job_id}/outputs"): Call("/api/v1/batch/walk/outputs"),
    ("POST", "/api/v1/batch/{job_id}/cancel"): Call("/api/v1/batch/walk/cancel"),
}


# Azure ML classic's management calls, outside /api/v1: BES on a training and the PATCH
# pointing an endpoint at a version take the admin key or a token allowed to train or to
# promote; an endpoint's scoring key is refused (it scores, it does not move the champion).
CLASSIC_MANAGEMENT: dict[tuple[str, str], Call] = {
    ("POST", "/trainings/{name}/jobs"): Call("/trainings/immo/jobs?api-version=2.0", {}),
    ("POST", "/trainings/{name}/jobs/{run_id}/start"): Call("/trainings/immo/jobs/{run}/start"),
    ("GET", "/trainings/{name}/jobs/{run_id}"): Call("/trainings/immo/jobs/{run}"),
    ("DELETE", "/trainings/{name}/jobs/{run_id}"): Call("/trainings/immo/jobs/{run}"),
    ("PATCH", "/endpoints/{name}"): Call(
        "/endpoints/immo", {"Resources": [{"Name": "immo [trained model]", "Location": "immo:2"}]}
    ),
}

# The least role of each write; every GET needs a viewer but those marked here.
NEEDS: dict[tuple[str, str], Role] = {
    ("POST", "/api/v1/trainings/{name}/runs"): Role.SCIENTIST,
    ("POST", "/api/v1/runs/{run_id}/cancel"): Role.SCIENTIST,
    ("POST", "/api/v1/schedules/{training}/pause"): Role.SCIENTIST,
    ("POST", "/api/v1/schedules/{training}/resume"): Role.SCIENTIST,
    ("POST", "/api/v1/endpoints/{name}/feedback"): Role.SCIENTIST,
    ("POST", "/api/v1/batch"): Role.SCIENTIST,
    ("POST", "/api/v1/batch/{job_id}/cancel"): Role.SCIENTIST,
    ("POST", "/api/v1/models/{name}/promote"): Role.APPROVER,
    ("POST", "/api/v1/models/{name}/rollback"): Role.APPROVER,
    ("POST", "/api/v1/models/{name}/approve"): Role.APPROVER,
    ("POST", "/api/v1/models/{name}/reject"): Role.APPROVER,
    ("POST", "/api/v1/me/tokens"): Role.VIEWER,
    ("POST", "/api/v1/me/tokens/{token_id}/revoke"): Role.VIEWER,
    ("GET", "/api/v1/users"): Role.ADMIN,
}


def least_role(method: str, path: str) -> Role:
    """What the route needs: its entry in NEEDS, else viewer for GET, admin for the rest."""
    return NEEDS.get((method, path), Role.VIEWER if method == "GET" else Role.ADMIN)


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, routers included."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.160
    found: set[tuple[str, str]] = set()
    for route in iterate(app.routes) if iterate is not None else app.routes:
        for method in getattr(route, "methods", None) or ():
            found.add((method, str(route.path)))
    return found


@dataclass(frozen=True)
class World:
    ws: Workspace
    app: FastAPI
    base: str
    score_key: str
    run_id: str
    token_id: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("control")
    ws = control_workspace(root, f"sqlite:///{root / 'registry.db'}")
    for _ in range(2):
        assert ws.trainings.run("immo").version is not None  # immo:1 then immo:2, champion
    ws.models.register("spare", ws.models.load("immo:1"), input_example=_example(ws))
    ws.models.register("spare", ws.models.load("immo:2"), input_example=_example(ws))
    ws.models.promote("spare", 1)
    ws.models.promote("spare", 2)
    ws.models.register("held", ws.models.load("immo:1"), input_example=_example(ws))
    ws.models.register("held", ws.models.load("immo:1"), input_example=_example(ws))
    ws.registry.mark_pending("held", 1)  # as require_approval leaves a passing version
    ws.registry.mark_pending("held", 2)
    ws.people.add("walker", "viewer")
    token, _ = ws.people.issue_token("walker")
    keys = ws.endpoints.create("immo", model="immo@champion").keys or {}
    ws.endpoints.create("spare", model="spare@champion")
    ws.queue.sync_schedules()
    queued = ws.trainings.run("immo", wait=False)
    ws.batch.score(
        "immo", source="immo_db", table="immo", key="surface", output_table="s", job_id="walk",
        wait=False,
    )  # fmt: skip
    bes = BatchSpec(model="immo@champion", source="immo_db", table="immo", key="surface",
                    output_table="immo_bes")  # fmt: skip
    ws.batch.submit(bes, "bes-walk", held=True, endpoint="immo")
    app = create_control_app(ws, follow_interval=0.2)
    with running(app) as base:
        yield World(ws, app, base, keys["primary"], queued.id, token.id)
    ws.close()


def _example(ws: Workspace) -> Any:
    return ws.sources.read("immo_db", "SELECT surface FROM immo LIMIT 5")


def _send(world: World, method: str, call: Call, headers: dict[str, str]) -> httpx.Response:
    path = call.path.replace("{run}", world.run_id).replace("{token}", world.token_id)
    return httpx.request(method, world.base + path, json=call.body, headers=headers, timeout=30)


def test_every_route_is_classified(world: World) -> None:
    served = routes_of(world.app)
    known = set(PUBLIC) | set(SCORING) | set(ADMIN_ROUTES) | set(CLASSIC_MANAGEMENT)
    assert not served - known, f"routes nobody classified: {sorted(served - known)}"
    assert not known - served, f"classified routes that no longer exist: {sorted(known - served)}"
    assert all(path.startswith("/api/v1/") or path == "/api/v1" for _, path in ADMIN_ROUTES)
    assert not any(path.startswith("/api/") for _, path in (*PUBLIC, *SCORING))


def test_classic_management_refuses_scoring_keys_and_answers_the_admin_key(world: World) -> None:
    submit = CLASSIC_MANAGEMENT[("POST", "/trainings/{name}/jobs")]
    run_id = _send(world, "POST", submit, ADMIN).json()  # a run of its own to start and cancel
    order = sorted(CLASSIC_MANAGEMENT, key=lambda route: (route[0] == "DELETE", route))
    for method, path in order:
        call = CLASSIC_MANAGEMENT[(method, path)]
        call = Call(call.path.replace("{run}", run_id), call.body)
        assert _send(world, method, call, {}).status_code == 401, (method, path)
        refused = _send(world, method, call, bearer(world.score_key))
        assert refused.status_code == 403, (method, path, refused.text)
        answer = _send(world, method, call, ADMIN)
        assert answer.status_code == 200, (method, path, answer.text)


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ROUTES))
def test_admin_routes_refuse_no_key_and_score_keys(world: World, method: str, path: str) -> None:
    call = ADMIN_ROUTES[(method, path)]
    missing = _send(world, method, call, {})
    assert missing.status_code == 401, missing.text
    assert missing.json()["code"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for key in (world.score_key, "not-a-key"):
        refused = _send(world, method, call, bearer(key))
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"


# The admin key's account is not a user: it has no personal tokens of its own.
NOT_FOR_THE_ADMIN_ACCOUNT = {
    ("POST", "/api/v1/me/tokens"): 400,
    ("POST", "/api/v1/me/tokens/{token_id}/revoke"): 404,
}


def test_admin_routes_answer_the_admin_key(world: World) -> None:
    # Reads and safe writes first; the DELETE of "spare" last, after its other calls.
    order = sorted(ADMIN_ROUTES, key=lambda route: (route[0] == "DELETE", route))
    for method, path in order:
        answer = _send(world, method, ADMIN_ROUTES[(method, path)], ADMIN)
        expected = NOT_FOR_THE_ADMIN_ACCOUNT.get((method, path))
        if expected is not None:
            assert answer.status_code == expected, (method, path, answer.text)
            continue
        assert answer.status_code in (200, 201, 202, 204), (method, path, answer.text)


@pytest.mark.parametrize(("method", "path"), sorted(SCORING))
def test_scoring_routes_take_the_endpoint_key(world: World, method: str, path: str) -> None:
    call = SCORING[(method, path)]
    assert _send(world, method, call, {}).status_code == 401
    assert _send(world, method, call, bearer("not-a-key")).status_code == 401
    answer = _send(world, method, call, bearer(world.score_key))
    # GET /score is for entry scripts (query string as input); a model endpoint says 405.
    expected = 405 if (method, path) == ("GET", "/endpoints/{name}/score") else 200
    assert answer.status_code == expected, answer.text


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_public_routes_need_no_key(world: World, method: str, path: str) -> None:
    answer = _send(world, method, PUBLIC[(method, path)], {})
    expected = 404 if path == "/v2/{path:path}" else 405 if method == "OPTIONS" else 200
    assert answer.status_code == expected, answer.text


def test_each_role_is_refused_what_it_may_not_do(world: World) -> None:
    tokens = {}
    for role in (Role.VIEWER, Role.SCIENTIST, Role.APPROVER):
        world.ws.people.add(f"a-{role.value}", role)
        tokens[role] = world.ws.people.issue_token(f"a-{role.value}")[1]
    refused, allowed = [], []
    for method, path in sorted(ADMIN_ROUTES, key=lambda route: (route[0] == "DELETE", route)):
        needed = least_role(method, path)
        for role, token in tokens.items():
            answer = _send(world, method, ADMIN_ROUTES[(method, path)], bearer(token))
            if role.rank < needed.rank:
                assert answer.status_code == 403, (role, method, path, answer.text)
                assert f"needs the {needed.value} role" in answer.json()["message"]
                refused.append((role, path))
            else:  # let through: whatever the route then answers, it is not a refusal
                assert answer.status_code not in (401, 403), (role, method, path, answer.text)
                allowed.append((role, path))
    promote = "/api/v1/models/{name}/promote"
    assert (Role.VIEWER, promote) in refused and (Role.SCIENTIST, promote) in refused
    assert (Role.APPROVER, promote) in allowed
    assert (Role.APPROVER, "/api/v1/endpoints/{name}/keys/regenerate") in refused
