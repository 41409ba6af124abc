"""The Studio in a real browser (Debian's Chromium, driven by Playwright) against a real
``modelyard up`` process: log in; see the immo model; open a run and watch its logs
arrive; promote a version and see the endpoint answer with it; use the Test form; regenerate
a key and see the old one refused; pause a schedule; log out and be refused. Then every
page is checked by axe-core: no serious or critical violation, and the keyboard works."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from modelyard import Workspace
from tests.helpers.browser import axe_violations, chromium
from tests.helpers.control import ADMIN_KEY, bearer
from tests.helpers.processes import Process, started
from tests.helpers.server import free_port

SLOW_SCRIPT = """\
import time

from sklearn.linear_model import LinearRegression


def train(df, params):
    print(f"fitting on {len(df)} rows")
    time.sleep(3)  # long enough to watch the run's logs arrive
    return LinearRegression().fit(df[["surface"]], df["prix"])
"""
CONFIG = f"""\
[registry]
database_url = "sqlite:///registry.db"
artifacts = "artifacts"

[security]
admin_key = "{ADMIN_KEY}"

[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
script = "train.py"
evaluation = {{ holdout = 0.2, seed = 42 }}
promotion = {{ metric = "r2", min = 0.8, policy = "latest-passing" }}
schedule = "every 1h"
"""


@dataclass
class Up:
    """``modelyard up`` serving the Studio, and the endpoint's first key."""

    base: str
    root: Path
    process: Process
    key: str


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    root = tmp_path_factory.mktemp("studio-up")
    (root / "modelyard.toml").write_text(CONFIG)
    (root / "train.py").write_text(SLOW_SCRIPT)
    with Workspace.from_config(root) as ws:
        ws.sources.demo_data("immo", "immo_db", 300, replace=True)
        assert ws.trainings.run("immo").version == 1
        key = (ws.endpoints.create("immo", model="immo@champion").keys or {})["primary"]
    port = free_port()
    args = ("up", "--port", str(port), "--heartbeat", "1", "--drain-seconds", "0")
    with started(root, *args) as process:
        base = f"http://127.0.0.1:{port}"
        process.wait_ready(base)
        yield Up(base, root, process, key)
        assert process.terminate() == 0, process.output()
        assert "Traceback" not in process.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _score(up: Up, key: str, surface: float = 25.0) -> httpx.Response:
    return httpx.post(
        f"{up.base}/endpoints/immo/score", json={"data": [[surface]]}, headers=bearer(key)
    )


def _watched(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A 1280x800 page, and the errors its console reports (a script the page's CSP
    blocked, an exception in htmx): there must be none."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _log_in(page: Page, up: Up) -> None:
    page.goto(f"{up.base}/")
    expect(page).to_have_url(re.compile(r"/studio/login"))
    page.get_by_label("Admin key or personal token").fill(ADMIN_KEY)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/studio/models$"))


def test_a_person_runs_promotes_tests_and_secures_immo_in_the_studio(
    up: Up, browser: Browser
) -> None:
    context, page, errors = _watched(browser)
    _log_in(page, up)

    # see the immo model, its champion badge
    page.get_by_role("link", name="immo").click()
    expect(page.get_by_role("heading", name="immo", exact=True)).to_be_visible()
    expect(page.locator(".heading .badge.champion")).to_have_text("champion v1")

    # run a training and watch its logs arrive while it runs
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("button", name="Run immo now").click()
    expect(page).to_have_url(re.compile(r"/studio/runs/[0-9a-f]{32}$"))
    logs, state = page.locator("#run-logs"), page.locator("#run-state")
    expect(logs).to_contain_text("fit:", timeout=20_000)
    expect(state).to_have_text("running")
    assert "decision:" not in logs.inner_text()  # the gate has not run yet
    expect(logs).to_contain_text("fitting on", timeout=20_000)  # the script's own output
    expect(logs).to_contain_text("decision:", timeout=20_000)
    expect(state).to_have_text("succeeded")
    expect(page.locator(".decision")).to_contain_text("version 2 promoted")
    assert _score(up, up.key).headers["x-model-version"] == "2"

    # promote version 1 back, with a confirmation, and see the endpoint answer with it
    page.goto(f"{up.base}/studio/models/immo")
    page.get_by_role("link", name="Promote v1…").click()
    expect(page.get_by_role("heading", name=re.compile("Promote immo:1"))).to_be_visible()
    page.get_by_label("Why (recorded in the ledger)").fill("back to the first fit")
    page.get_by_role("button", name="Confirm: promote").click()
    expect(page.locator(".notice")).to_have_text("immo:1 is champion")
    ledger = page.locator("section", has=page.get_by_role("heading", name="Promotion ledger"))
    expect(ledger.locator("tbody tr").first).to_contain_text("back to the first fit")
    expect(ledger.locator("tbody tr").first).to_contain_text("admin")
    up.process.wait_for(
        lambda: _score(up, up.key).headers.get("x-model-version") == "1", 10, "v1 served"
    )

    # the Test form, generated from the signature, gets the endpoint's prediction
    page.goto(f"{up.base}/studio/endpoints/immo")
    page.get_by_label(re.compile("^surface")).fill("25")
    page.get_by_role("button", name="Score").click()
    expected = _score(up, up.key).json()["predictions"][0]
    expect(page.locator("#prediction")).to_have_text(str(expected))
    expect(page.locator(".prediction")).to_contain_text("Prediction of v1")

    # regenerate the primary key: shown once, the old one refused, the new one accepted
    page.get_by_role("button", name="Regenerate primary key").click()
    new_key = page.locator("#new-key").inner_text().strip()
    assert new_key and new_key != up.key
    refused = up.process.wait_for(
        lambda: _score(up, up.key).status_code == 401, 10, "the old key refused"
    )
    assert refused < 5  # replicas re-read the endpoint every second
    assert _score(up, new_key).status_code == 200
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)  # never shown again

    # pause the schedule
    page.get_by_role("link", name="Schedules & jobs").click()
    expect(page.locator("#schedule-immo")).to_have_text("active")
    page.get_by_role("button", name="Pause immo").click()
    expect(page.locator("#schedule-immo")).to_have_text("paused")
    with Workspace.from_config(up.root) as ws:
        assert [s.paused for s in ws.queue.schedules.list()] == [True]
        audit = [(e.actor, e.action) for e in ws.people.history()]
    assert ("admin", "schedule.paused") in audit
    assert ("admin", "endpoint.key_regenerated") in audit

    # log out, and be refused: the pages, and the old session cookie replayed
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "modelyard_session")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/studio/login$"))
    page.goto(f"{up.base}/studio/endpoints/immo")
    expect(page).to_have_url(re.compile(r"/studio/login\?next="))
    replayed = httpx.get(
        f"{up.base}/studio/models", cookies={"modelyard_session": cookie}, follow_redirects=False
    )
    assert replayed.status_code == 303
    context.close()
    assert errors == []


PAGES = (
    "/studio/models",
    "/studio/models/immo",
    "/studio/models/immo/decision",
    "/studio/models/immo/confirm?do=promote&version=1",
    "/studio/runs",
    "/studio/runs/{run}",
    "/studio/endpoints",
    "/studio/endpoints/immo",
    "/studio/sources",
    "/studio/monitoring",
    "/studio/schedules",
    "/studio/people",
)


def test_every_page_passes_axe_and_works_from_the_keyboard(up: Up, browser: Browser) -> None:
    context, page, errors = _watched(browser)
    page.goto(f"{up.base}/studio/login")
    found = {"/studio/login": axe_violations(page)}
    # keyboard only: the key field has focus, Enter logs in
    expect(page.get_by_label("Admin key or personal token")).to_be_focused()
    page.keyboard.type(ADMIN_KEY)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/studio/models$"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    with Workspace.from_config(up.root) as ws:
        run = ws.runs.list(limit=1)[0].id
    for path in PAGES:
        page.goto(up.base + path.replace("{run}", run))
        found[path] = axe_violations(page)
    # pages that only a form shows: a preview with its charts, a test result, an error
    page.goto(f"{up.base}/studio/sources")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".columns svg").first).to_be_visible()
    found["source preview"] = axe_violations(page)
    page.goto(f"{up.base}/studio/endpoints/immo")
    page.get_by_label(re.compile("^surface")).fill("40")
    page.get_by_label(re.compile("^surface")).press("Enter")  # submits from the keyboard
    expect(page.locator("#prediction")).to_be_visible()
    found["test result"] = axe_violations(page)
    page.goto(f"{up.base}/studio/models/immo/confirm?do=reject&version=1")
    page.get_by_role("button", name="Confirm: reject").click()
    expect(page.get_by_role("alert")).to_contain_text("not pending approval")
    found["error page"] = axe_violations(page)
    context.close()
    assert {path: v for path, v in found.items() if v} == {}
    assert [e for e in errors if "status of 4" not in e] == []  # but the refused reject
