"""Screenshots of every Studio page at 1280x800, for docs/studio.md.

    .venv/bin/python docs/studio/screenshots.py        # needs `make test-deps` (Chromium)

Builds a demo workspace (seed 000's immo model retrained on changing data, an endpoint, a
schedule, two users), serves the Studio on a free loopback port and saves one PNG per page
next to this script (the whole page, rendered 1280 pixels wide).
"""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from modelyard import Workspace
from modelyard.config import Settings
from modelyard.ui import create_studio_app

HERE = Path(__file__).resolve().parent
KEY = "screenshots-admin-key"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def demo(folder: Path) -> Workspace:
    """immo retrained five times on changing data (one noisy: kept, not promoted)."""
    training = {
        "source": "immo_db",
        "query": "SELECT surface, prix FROM immo",
        "target": "prix",
        "estimator": "sklearn.linear_model.LinearRegression",
        "evaluation": {"holdout": 0.2, "seed": 42},
        "promotion": {"metric": "r2", "min": 0.8, "policy": "latest-passing"},
        "schedule": "0 * * * *",
    }
    raw = {
        "registry": {"database_url": f"sqlite:///{folder / 'registry.db'}", "artifacts": "art"},
        "security": {"admin_key": KEY},
        "sources": {"immo_db": {"url": f"sqlite:///{folder / 'immo.db'}"}},
        "trainings": {"immo": training},
    }
    ws = Workspace(Settings.from_mapping(raw, root=folder, env={}))
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shoot(page: Page, base: str, path: str, name: str) -> None:
    if path:
        page.goto(base + path)
    page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
    print(f"docs/studio/{name}.png")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    ws = demo(folder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_studio_app(ws, follow_interval=0.2), port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    run = ws.runs.list(limit=1)[0].id
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            shoot(page, base, "/studio/login", "login")
            page.get_by_label("Admin key or personal token").fill(KEY)
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
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ws.close()


if __name__ == "__main__":
    main()
