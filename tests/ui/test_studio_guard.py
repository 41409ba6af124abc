"""No Studio action without the session: every page and form walked without a session,
with a missing or foreign CSRF token and from another origin is refused and changes
nothing; each role is refused in the Studio what the admin API refuses it; four-eyes
holds in the Studio too; the key never shows in a URL, a page or the cookie."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import pytest

from modelyard.ui.app import create_studio_app
from tests.helpers.control import ADMIN_KEY
from tests.helpers.studio import Studio, serving_studio


@dataclass(frozen=True)
class Form:
    """A concrete form post for one route, and the least role allowed to send it."""

    path: str
    data: dict[str, str]
    role: str


PAGES = {
    "/studio/models": "/studio/models",
    "/studio/models/{name}": "/studio/models/immo",
    "/studio/models/{name}/decision": "/studio/models/immo/decision",
    "/studio/models/{name}/confirm": "/studio/models/immo/confirm?do=promote&version=1",
    "/studio/runs": "/studio/runs",
    "/studio/runs/{run_id}": "/studio/runs/{run}",
    "/studio/runs/{run_id}/live": "/studio/runs/{run}/live",
    "/studio/endpoints": "/studio/endpoints",
    "/studio/endpoints/{name}": "/studio/endpoints/immo",
    "/studio/sources": "/studio/sources",
    "/studio/schedules": "/studio/schedules",
    "/studio/monitoring": "/studio/monitoring",
    "/studio/people": "/studio/people",
}
OPEN = {"/", "/studio", "/studio/login"}  # redirects and the login page itself
FORMS = {
    "/studio/models/{name}/promote": Form(
        "/studio/models/immo/promote", {"version": "1"}, "approver"
    ),
    "/studio/models/{name}/rollback": Form("/studio/models/immo/rollback", {}, "approver"),
    "/studio/models/{name}/approve": Form(
        "/studio/models/immo/approve", {"version": "{pending}"}, "approver"
    ),
    "/studio/models/{name}/reject": Form(
        "/studio/models/immo/reject", {"version": "{pending}"}, "approver"
    ),
    "/studio/trainings/{name}/run": Form("/studio/trainings/immo/run", {}, "scientist"),
    "/studio/runs/{run_id}/cancel": Form("/studio/runs/{run}/cancel", {}, "scientist"),
    "/studio/endpoints/{name}/test": Form(
        "/studio/endpoints/immo/test", {"col-surface": "30"}, "scientist"
    ),
    "/studio/endpoints/{name}/keys": Form(
        "/studio/endpoints/immo/keys", {"slot": "primary"}, "admin"
    ),
    "/studio/sources/preview": Form(
        "/studio/sources/preview", {"source": "immo_db", "query": "SELECT * FROM immo"}, "scientist"
    ),
    "/studio/schedules/{training}/pause": Form("/studio/schedules/immo/pause", {}, "scientist"),
    "/studio/schedules/{training}/resume": Form("/studio/schedules/immo/resume", {}, "scientist"),
    "/studio/people/tokens": Form("/studio/people/tokens", {"label": "x"}, "viewer"),
    "/studio/people/tokens/{token_id}/revoke": Form(
        "/studio/people/tokens/{token}/revoke", {}, "viewer"
    ),
    "/studio/people/users": Form(
        "/studio/people/users", {"name": "mallory", "role": "admin"}, "admin"
    ),
    "/studio/people/users/{name}/role": Form(
        "/studio/people/users/vera/role", {"role": "admin"}, "admin"
    ),
    "/studio/people/users/{name}/tokens": Form("/studio/people/users/vera/tokens", {}, "admin"),
    "/studio/people/users/{name}/tokens/{token_id}/revoke": Form(
        "/studio/people/users/vera/tokens/{token}/revoke", {}, "admin"
    ),
    "/studio/logout": Form("/studio/logout", {}, "viewer"),
}
RANK = ["viewer", "scientist", "approver", "admin"]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("studio-guard")) as served:
        yield served


def _fill(studio: Studio, text: str) -> str:
    run = studio.ws.runs.list(limit=1)[0].id
    token = studio.ws.people.tokens("vera")[0].id
    return (
        text.replace("{run}", run)
        .replace("{token}", token)
        .replace("{pending}", str(studio.pending))
    )


def _form(studio: Studio, form: Form) -> tuple[str, dict[str, str]]:
    return _fill(studio, form.path), {k: _fill(studio, v) for k, v in form.data.items()}


def state(studio: Studio) -> dict[str, Any]:
    """Everything a Studio form could change."""
    ws = studio.ws
    endpoint = ws.endpoints._store.get("immo")
    return {
        "aliases": dict(ws.models.get_model("immo").aliases),
        "statuses": [v.status for v in ws.models.versions("immo")],
        "events": len(ws.models.history("immo")),
        "runs": [(r.id, r.state) for r in ws.runs.list(limit=500)],
        "schedules": [(s.training, s.paused) for s in ws.queue.schedules.list()],
        "keys": (endpoint.primary_key_hash, endpoint.secondary_key_hash),
        "users": [(u.name, u.role) for u in ws.people.list()],
        "tokens": [(t.id, t.active) for u in ws.people.list() for t in ws.people.tokens(u.name)],
        "audit": len(ws.people.history(limit=1000)),
    }


def test_every_route_of_the_studio_app_is_walked(studio: Studio) -> None:
    app = create_studio_app(studio.ws)
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = iterate(app.routes) if iterate is not None else app.routes
    served = set()  # the static files' mount has no methods: it serves files, no actions
    for route in routes:
        path = str(getattr(route, "path", ""))
        if not getattr(route, "methods", None) or not (path == "/" or path.startswith("/studio")):
            continue
        served.add(path)
    walked = set(PAGES) | set(FORMS) | OPEN
    assert served == walked, f"unwalked: {served - walked}; gone: {walked - served}"


def test_pages_without_a_session_lead_to_the_login(studio: Studio) -> None:
    anonymous = studio.client(None)
    for path in PAGES.values():
        answer = anonymous.get(_fill(studio, path))
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/studio/login?next=/studio/")
    forged = studio.client(None)
    forged.cookies.set("modelyard_session", "made-up.0000", path="/studio")
    assert forged.get("/studio/models").status_code == 303


def test_forms_without_a_session_or_with_a_bad_csrf_token_change_nothing(studio: Studio) -> None:
    admin = studio.client("key")
    csrf = studio.csrf(admin)
    other = studio.csrf(studio.client("viewer"))  # a real token, of another session
    before = state(studio)
    anonymous = studio.client(None)
    for form in FORMS.values():
        path, data = _form(studio, form)
        answer = anonymous.post(path, data={**data, "csrf": csrf}, headers={"origin": studio.base})
        assert answer.status_code == 401, (path, answer.text)
        for token in (None, "", other, csrf[:-2] + "xx"):
            sent = dict(data) if token is None else {**data, "csrf": token}
            answer = admin.post(path, data=sent, headers={"origin": studio.base})
            assert answer.status_code == 403, (path, token, answer.text)
            assert "CSRF" in answer.text
        foreign = admin.post(
            path, data={**data, "csrf": csrf}, headers={"origin": "http://evil.example"}
        )
        assert foreign.status_code == 403, (path, foreign.text)
    assert state(studio) == before


def test_each_role_is_refused_in_the_studio_what_it_may_not_do(studio: Studio) -> None:
    for who in ("viewer", "scientist", "approver"):
        client = studio.client(who)
        csrf = studio.csrf(client)
        for form in FORMS.values():
            if RANK.index(who) >= RANK.index(form.role):
                continue
            path, data = _form(studio, form)
            before = state(studio)
            answer = client.post(path, data={**data, "csrf": csrf}, headers={"origin": studio.base})
            assert answer.status_code == 403, (who, path, answer.text)
            assert f"needs the {form.role} role" in answer.text
            assert state(studio) == before, (who, path)


def test_the_author_cannot_approve_their_own_version_under_four_eyes(studio: Studio) -> None:
    version = studio.pending
    assert studio.ws.models.get("immo", version=version).created_by == "sam"
    studio.ws.people.set_role("sam", "approver")  # now allowed to approve, but not this
    try:
        author = studio.client("scientist")
        before = state(studio)
        answer = author.post(
            "/studio/models/immo/approve",
            data={"version": str(version), "csrf": studio.csrf(author)},
            headers={"origin": studio.base},
        )
        assert answer.status_code == 403 and "four-eyes" in answer.text
        assert state(studio) == before
        api = f"{studio.base}/api/v1/models/immo/approve"
        refused = author.post(
            api,
            json={"version": version},
            headers={"Authorization": f"Bearer {studio.tokens['scientist']}"},
        )
        assert refused.status_code == 403 and "four-eyes" in refused.json()["message"]
    finally:
        studio.ws.people.set_role("sam", "scientist")


def test_the_key_is_in_no_url_page_or_cookie(studio: Studio) -> None:
    client = httpx_login_trace(studio)
    for path in PAGES.values():
        answer = client.get(_fill(studio, path))
        assert ADMIN_KEY not in answer.text and ADMIN_KEY not in str(answer.url)
        assert "script-src 'self';" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    cookie = client.cookies.get("modelyard_session") or ""
    assert cookie and ADMIN_KEY not in cookie


def httpx_login_trace(studio: Studio) -> Any:
    """Log in and check the login answer itself: a 303 to a page, and the cookie's flags."""
    client = studio.client(None)
    answer = client.post("/studio/login", data={"key": ADMIN_KEY}, headers={"origin": studio.base})
    assert answer.status_code == 303 and ADMIN_KEY not in answer.headers["location"]
    flags = answer.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/studio" in flags
    assert "max-age=" in flags
    wrong = client.post("/studio/login", data={"key": "nope"}, headers={"origin": studio.base})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    return client


def test_logging_out_ends_the_session_on_the_server(studio: Studio) -> None:
    client = studio.client("viewer")
    cookie = client.cookies.get("modelyard_session")
    csrf = studio.csrf(client)
    out = client.post("/studio/logout", data={"csrf": csrf}, headers={"origin": studio.base})
    assert out.status_code == 303
    replay = studio.client(None)
    replay.cookies.set("modelyard_session", cookie or "", path="/studio")
    assert replay.get("/studio/models").status_code == 303  # the copied cookie is dead too


def test_a_failure_is_a_page_that_says_what_to_fix(studio: Studio) -> None:
    client = studio.client("key")
    missing = client.get("/studio/models/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "model_not_found" in missing.text and "modelyard models list" in missing.text
    csrf = studio.csrf(client)
    conflict = client.post(
        "/studio/models/immo/approve",
        data={"version": "1", "csrf": csrf},
        headers={"origin": studio.base},
    )
    assert conflict.status_code == 409 and "not pending approval" in conflict.text


def test_live_parts_send_the_whole_page_to_the_login_and_errors_come_as_fragments(
    studio: Studio,
) -> None:
    run = studio.ws.runs.list(limit=1)[0].id
    polled = studio.client(None).get(f"/studio/runs/{run}/live", headers={"hx-request": "true"})
    assert polled.status_code == 204
    assert polled.headers["hx-redirect"] == f"/studio/login?next=/studio/runs/{run}/live"
    client = studio.client("viewer")
    refused = client.post(
        "/studio/endpoints/immo/test",
        data={"col-surface": "30", "csrf": studio.csrf(client)},
        headers={"origin": studio.base, "hx-request": "true"},
    )
    assert refused.status_code == 403 and refused.text.startswith('<p class="error"')
    assert "needs the scientist role" in refused.text and "<html" not in refused.text
