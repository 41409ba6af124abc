"""Every route of the served Studio app (scoring, admin API, classic management, Studio)
walked four ways, each refused: without a key; with an endpoint's scoring key on the
control plane; with a foreign Origin; with a Studio session that expired. And, read from
the source, every comparison of a key, token, session or signature is constant-time."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

import modelyard
from modelyard.storage import schema
from tests.helpers import figures
from tests.helpers.control import ADMIN, bearer
from tests.helpers.studio import Studio, serving_studio
from tests.ui.test_studio_guard import FORMS, OPEN, PAGES
from tests.web.test_admin_auth import (
    ADMIN_ROUTES,
    CLASSIC_MANAGEMENT,
    PUBLIC,
    SCORING,
    Call,
    routes_of,
)

FOREIGN = "http://evil.example"
SRC = Path(modelyard.__file__).parent
CONTROL = {**ADMIN_ROUTES, **CLASSIC_MANAGEMENT}
STUDIO_PAGES = {("GET", path): Call(url) for path, url in PAGES.items()}
STUDIO_FORMS = {("POST", path): Call(form.path, form.data) for path, form in FORMS.items()}
STUDIO_OPEN = {("GET", path): Call(path) for path in OPEN} | {
    ("POST", "/studio/login"): Call("/studio/login", {"key": "nope"})
}


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("auth-walk")) as served:
        yield served


def _url(studio: Studio, call: Call) -> str:
    run = studio.ws.runs.list(limit=1)[0].id
    token = studio.ws.people.tokens("vera")[0].id
    path = call.path.replace("{run}", run).replace("{token}", token)
    return studio.base + path.replace("{pending}", str(studio.pending))


def _api(
    studio: Studio, method: str, call: Call, headers: dict[str, str], client: httpx.Client | None
) -> httpx.Response:
    send = client.request if client is not None else httpx.request
    return send(method, _url(studio, call), json=call.body, headers=headers, timeout=30)


def _form(studio: Studio, call: Call, client: httpx.Client, headers: dict[str, str]) -> int:
    data = {k: v.replace("{pending}", str(studio.pending)) for k, v in (call.body or {}).items()}
    if "csrf" not in data:
        data["csrf"] = studio.csrf(client) if _has_session(client) else "none"
    return client.post(_url(studio, call), data=data, headers=headers).status_code


def _has_session(client: httpx.Client) -> bool:
    return client.get("/studio/people").status_code == 200


def _json_refusal(answer: httpx.Response, status: int) -> bool:
    if answer.status_code != status:
        return False
    if answer.request.method == "HEAD":  # no body to a HEAD
        return True
    body = answer.json()
    return isinstance(body, dict) and bool(body.get("code")) and bool(body.get("message"))


def test_every_route_is_refused_without_a_key_a_right_key_or_a_live_session(
    studio: Studio,
) -> None:
    from modelyard.ui.app import create_studio_app

    served = routes_of(create_studio_app(studio.ws))
    known = {*PUBLIC, *SCORING, *CONTROL, *STUDIO_PAGES, *STUDIO_FORMS, *STUDIO_OPEN}
    assert not served - known, f"routes nobody classified: {sorted(served - known)}"
    walked: dict[str, int] = {}
    refused: dict[str, int] = {}
    wrong: list[str] = []

    def tally(way: str, ok: bool, what: str) -> None:
        walked[way] = walked.get(way, 0) + 1
        refused[way] = refused.get(way, 0) + ok
        if not ok:
            wrong.append(f"{way}: {what}")

    anonymous = httpx.Client(base_url=studio.base, timeout=30, follow_redirects=False)
    # 1. without any key (or session): 401 JSON on the API, the login page for Studio pages
    for (method, path), call in sorted({**SCORING, **CONTROL}.items()):
        answer = _api(studio, method, call, {}, None)
        tally("no key", _json_refusal(answer, 401), f"{method} {path} {answer.status_code}")
    for (method, path), call in sorted(STUDIO_PAGES.items()):
        answer = anonymous.get(_url(studio, call))
        ok = answer.status_code == 303 and "/studio/login" in answer.headers["location"]
        tally("no key", ok, f"{method} {path} {answer.status_code}")
    for (method, path), call in sorted(STUDIO_FORMS.items()):
        status = _form(studio, call, anonymous, {"origin": studio.base})
        tally("no key", status == 401, f"{method} {path} {status}")

    # 2. an endpoint's scoring key on the control plane: 403; the Studio does not log it in
    for (method, path), call in sorted(CONTROL.items()):
        answer = _api(studio, method, call, bearer(studio.score_key), None)
        tally("scoring key", _json_refusal(answer, 403), f"{method} {path} {answer.status_code}")
    login = anonymous.post(
        "/studio/login", data={"key": studio.score_key}, headers={"origin": studio.base}
    )
    tally("scoring key", login.status_code == 401, f"POST /studio/login {login.status_code}")
    for (method, path), call in sorted(STUDIO_PAGES.items()):
        status = anonymous.get(_url(studio, call), headers=bearer(studio.score_key)).status_code
        tally("scoring key", status == 303, f"{method} {path} {status}")

    # 3. a foreign Origin with the admin key (or a live session): 403 on the control plane
    # and the Studio's forms; the scoring routes answer it without CORS permission
    for (method, path), call in sorted(CONTROL.items()):
        answer = _api(studio, method, call, {**ADMIN, "origin": FOREIGN}, None)
        tally("foreign origin", _json_refusal(answer, 403), f"{method} {path}")
    admin = studio.client("key")
    for (method, path), call in sorted(STUDIO_FORMS.items()):
        status = _form(studio, call, admin, {"origin": FOREIGN})
        tally("foreign origin", status == 403, f"{method} {path} {status}")
    login = anonymous.post("/studio/login", data={"key": "x"}, headers={"origin": FOREIGN})
    tally("foreign origin", login.status_code == 403, f"POST /studio/login {login.status_code}")
    for (method, path), call in sorted(SCORING.items()):
        answer = _api(studio, method, call, {**bearer(studio.score_key), "origin": FOREIGN}, None)
        allowed = answer.headers.get("access-control-allow-origin")
        tally("foreign origin", allowed not in (FOREIGN, "*"), f"{method} {path} CORS {allowed}")

    # 4. a Studio session past its expiry: the pages send to the login, the forms 401
    expired = studio.client("viewer")
    csrf = studio.csrf(expired)
    with studio.ws.db.engine.begin() as conn:
        conn.execute(
            sa.update(schema.sessions)
            .where(schema.sessions.c.user_name == "vera")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    for (method, path), call in sorted(STUDIO_PAGES.items()):
        answer = expired.get(_url(studio, call))
        tally("expired session", answer.status_code == 303, f"{method} {path}")
    for (method, path), call in sorted(STUDIO_FORMS.items()):
        data = {"csrf": csrf, **(call.body or {})}
        answer = expired.post(_url(studio, call), data=data, headers={"origin": studio.base})
        tally("expired session", answer.status_code == 401, f"{method} {path}")
    for client in (anonymous, admin, expired):
        client.close()

    comparisons = constant_time_comparisons()
    loose = loose_comparisons()
    total = sum(walked.values())
    figures.record(
        "Auth: every route without a key, with a scoring key, foreign Origin, expired session",
        load=(
            f"{len(served)} routes of the Studio app; {total} requests "
            f"({', '.join(f'{way} {n}' for way, n in walked.items())})"
        ),
        faults="no key, an endpoint's scoring key on the control plane, Origin "
        f"{FOREIGN}, a Studio session past expiry",
        result=(
            f"{sum(refused.values())}/{total} refused; secrets compared in constant time at "
            f"{len(comparisons)} sites, {len(loose)} '==' on a secret"
        ),
        passed=not wrong and not loose,
    )
    assert not wrong, wrong
    assert not loose, loose


def test_classic_management_refuses_a_foreign_origin_even_with_the_admin_key(
    studio: Studio,
) -> None:
    """Found by this walk: BES on a training and classic's PATCH of an endpoint took the
    admin key from any web origin, where the admin API refuses one."""
    for (method, path), call in sorted(CLASSIC_MANAGEMENT.items()):
        answer = _api(studio, method, call, {**ADMIN, "origin": FOREIGN}, None)
        assert _json_refusal(answer, 403), (method, path, answer.text)
        assert "origin" in answer.json()["message"]
    same = _api(studio, "POST", CLASSIC_MANAGEMENT[("POST", "/trainings/{name}/jobs")],
                {**ADMIN, "origin": studio.base}, None)  # fmt: skip
    assert same.status_code == 200, same.text


# --- constant-time comparisons, read from the source ------------------------------------

# Where modelyard checks what a caller presents: each must call hmac.compare_digest.
CHECKS = [
    ("config/secret.py", "matches"),  # the admin key
    ("storage/endpoints.py", "accepts"),  # an endpoint's primary and secondary keys
    ("storage/people.py", "holder"),  # a personal token
    ("ui/session.py", "_session_id"),  # the Studio cookie's signature
    ("ui/session.py", "acting"),  # the Studio form's CSRF token
    ("monitoring/webhooks.py", "verify"),  # a webhook's signature
]
SECRET = re.compile(r"(^|_)(key|secret|token|password|csrf|signature|digest|hash)$", re.IGNORECASE)
# '==' on a name that looks secret but is not one a caller presents, each with its reason.
NOT_SECRETS = {
    ("batch/runner.py", "f.name != spec.key"): "the key column's name",
    ("deployments/entry/manager.py", "wanted.digest != digest"): "an environment's digest",
    ("jobs/scheduler.py", "job.idempotency_key != mine"): "a schedule's fire id",
    ("serving/runtime.py", "found[0] != key"): "a model reference",
    ("deployments/entry/shim/azureml/contrib/services/aml_request.py", "k == key"): "a header",
    ("storage/queue.py", "j.c.idempotency_key == idempotency_key"): "a run's id (SQL)",
    ("storage/environments.py", "t.c.digest == digest"): "an environment's digest (SQL)",
    # SQL lookups by the sha256 of the secret; the row found is then compared in constant
    # time (people.holder) or is the hash of a random 256-bit id (sessions)
    ("storage/people.py", "t.c.token_hash == digest"): "SQL index lookup by hash",
    ("storage/sessions.py", "s.c.id_hash == hash_key(session_id)"): "SQL lookup by hash",
    # a flash message's owner: both sides are this server's own session records, never
    # what the caller sent (the cookie was already checked with compare_digest)
    ("ui/studio.py", "item[1] != visitor.csrf"): "two server-side values",
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text())


def constant_time_comparisons() -> list[str]:
    """``file:function`` of each check in CHECKS; fails for one without compare_digest."""
    found = []
    modules = dict(_modules())
    for file, function in CHECKS:
        (node,) = [
            n
            for n in ast.walk(modules[file])
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
        ]
        calls = [
            n
            for n in ast.walk(node)
            if isinstance(n, ast.Call) and ast.unparse(n.func).endswith("compare_digest")
        ]
        assert calls, f"{file}:{function} compares a secret without hmac.compare_digest"
        found += [f"{file}:{function}"] * len(calls)
    return found


def _name(node: ast.AST) -> str:
    """What an operand is called: ``spec.key`` -> key, ``hash_key(x)`` -> hash_key."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def loose_comparisons() -> list[str]:
    """Each ``==``/``!=`` whose operand names a key, token, secret or digest, outside
    NOT_SECRETS (comparisons with a literal, or of a length, are not on a secret); an
    entry of NOT_SECRETS no longer in the source is one too (the list stays current)."""
    loose, seen = [], set()
    for file, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Constant) for s in sides):
                continue
            if any(isinstance(s, ast.Call) and ast.unparse(s.func) == "len" for s in sides):
                continue
            if not any(SECRET.search(_name(s)) for s in sides):
                continue
            seen.add((file, ast.unparse(node)))
            if (file, ast.unparse(node)) not in NOT_SECRETS:
                loose.append(f"{file}:{node.lineno}: {ast.unparse(node)}")
    return loose + [f"{file}: {code} (gone)" for file, code in set(NOT_SECRETS) - seen]
