"""A Studio workspace for the UI tests: seed 000's immo training with two versions (the
second champion), an endpoint, a schedule, a pending version under four-eyes, and one user
per role with their token; served over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelyard import Workspace
from modelyard.types import Role
from modelyard.ui.app import create_studio_app
from tests.helpers.control import ADMIN_KEY, control_workspace
from tests.helpers.server import running

FOUR_EYES = {
    "metric": "r2",
    "min": 0.5,
    "policy": "latest-passing",
    "require_approval": True,
    "four_eyes": True,
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NAMES = {"viewer": "vera", "scientist": "sam", "approver": "april", "admin": "ada"}  # by role


@dataclass
class Studio:
    """The served Studio: its base URL, workspace, endpoint key and a token per role."""

    base: str
    ws: Workspace
    score_key: str
    tokens: dict[str, str] = field(default_factory=dict)
    pending: int = 0  # a version of immo awaiting approval, authored by the scientist

    def client(self, who: str | None = "key") -> httpx.Client:
        """An HTTP client logged in with the admin key ("key"), as the user of a role
        ("viewer", …, "admin"), or anonymous (None)."""
        client = httpx.Client(base_url=self.base, timeout=60, follow_redirects=False)
        if who is not None:
            key = ADMIN_KEY if who == "key" else self.tokens[who]
            answer = client.post("/studio/login", data={"key": key}, headers={"origin": self.base})
            assert answer.status_code == 303, answer.text
        return client

    def csrf(self, client: httpx.Client) -> str:
        """The CSRF token of ``client``'s session, read from a page's form."""
        found = CSRF.search(client.get("/studio/people").text)
        assert found is not None
        return found[1]


def studio_workspace(root: Path) -> tuple[Workspace, str, dict[str, str], int]:
    """The workspace, the immo endpoint's key, a token per role, the pending version."""
    ws = control_workspace(root, f"sqlite:///{root / 'registry.db'}", promotion=FOUR_EYES)
    tokens = {}
    for role in Role:
        ws.people.add(NAMES[role.value], role)
        tokens[role.value] = ws.people.issue_token(NAMES[role.value], "tests")[1]
    for seed in (1, 2):  # each run on new rows: versions that differ
        ws.sources.demo_data("immo", "immo_db", 300, seed=seed, replace=True)
        run, _ = ws.queue.trigger("immo", actor=NAMES["scientist"])
        ws.queue.worker().run_once()
        ws.models.approve("immo", ws.runs.get(run.id).version or 0, actor=NAMES["approver"])
    ws.sources.demo_data("immo", "immo_db", 300, seed=3, replace=True)
    run, _ = ws.queue.trigger("immo", actor=NAMES["scientist"])
    ws.queue.worker().run_once()
    pending = ws.runs.get(run.id).version or 0
    keys = ws.endpoints.create("immo", model="immo@champion").keys or {}
    ws.queue.sync_schedules()
    return ws, keys["primary"], tokens, pending


@contextmanager
def serving_studio(root: Path) -> Iterator[Studio]:
    """Serve the Studio of a fresh :func:`studio_workspace` on loopback."""
    ws, key, tokens, pending = studio_workspace(root)
    try:
        with running(create_studio_app(ws, follow_interval=0.2)) as base:
            yield Studio(base, ws, key, tokens, pending)
    finally:
        ws.close()
