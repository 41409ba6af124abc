"""Screenshots of every Studio page at 1280x800, for docs/studio.md.

    .venv/bin/python docs/studio/screenshots.py        # needs `make test-deps` (Chromium)

Builds a demo workspace (seed 000's immo model retrained on changing data, one noisy run
kept by the gate, an endpoint, a schedule, two users), serves the Studio on a free
loopback port and saves one PNG per page next to this script (the whole page, rendered in
a 1280x800 window). It reuses the test helpers' workspace, server and browser.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for tests.helpers

from playwright.sync_api import Page  # noqa: E402
from tests.helpers.browser import chromium  # noqa: E402
from tests.helpers.control import ADMIN_KEY, control_workspace  # noqa: E402
from tests.helpers.server import running  # noqa: E402

from modelyard import Workspace  # noqa: E402
from modelyard.ui.app import create_studio_app  # noqa: E402


def demo(folder: Path) -> Workspace:
    """immo retrained five times on changing data (the third, noisy, is kept)."""
    ws = control_workspace(folder, f"sqlite:///{folder / 'registry.db'}", schedule="0 * * * *")
    ws.people.add("alice", "scientist")
    ws.people.add("bob", "approver")
    for seed, noisy in ((1, False), (2, False), (3, True), (4, False), (5, False)):
        ws.sources.demo_data("immo", "immo_db", 400, seed=seed, noisy=noisy, replace=True)
        who = "alice" if seed % 2 else "scheduler"
        ws.queue.trigger("immo", actor=who, trigger="studio" if seed % 2 else "schedule")
        ws.queue.worker().run_once()
    ws.endpoints.create("immo", model="immo@champion", actor="admin")
    ws.queue.sync_schedules()
    return ws


def shoot(page: Page, base: str, path: str, name: str) -> None:
    """Open ``path`` (or stay, if empty) and save the whole page as ``name``.png."""
    if path:
        page.goto(base + path)
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
    print(f"docs/studio/{name}.png")


def main() -> None:
    ws = demo(Path(tempfile.mkdtemp(prefix="studio-shots-")))
    run = ws.runs.list(limit=1)[0].id
    with running(create_studio_app(ws, follow_interval=0.2)) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        shoot(page, base, "/studio/login", "login")
        page.get_by_label("Admin key or personal token").fill(ADMIN_KEY)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/studio/models$"))
        shoot(page, base, "", "models")
        shoot(page, base, "/studio/models/immo", "model")
        shoot(page, base, "/studio/models/immo/decision?challenger=3", "decision")
        shoot(page, base, "/studio/models/immo/confirm?do=promote&version=2", "confirm")
        shoot(page, base, "/studio/runs", "runs")
        shoot(page, base, f"/studio/runs/{run}", "run")
        shoot(page, base, "/studio/endpoints", "endpoints")
        page.goto(f"{base}/studio/endpoints/immo")
        page.get_by_role("button", name="Score").click()
        page.locator("#prediction").wait_for()
        page.locator("details").first.evaluate("d => d.open = true")
        shoot(page, base, "", "endpoint")
        page.goto(f"{base}/studio/sources")
        page.get_by_role("button", name="Preview").click()
        shoot(page, base, "", "sources")
        shoot(page, base, "/studio/schedules", "schedules")
        shoot(page, base, "/studio/monitoring", "monitoring")
        shoot(page, base, "/studio/people", "people")
    ws.close()


if __name__ == "__main__":
    main()
