"""A control-plane workspace for the admin API tests: seed 000's immo training declared on
an SQLite data source, an admin key, and the control app served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelyard import Workspace
from modelyard.web.admin.app import create_control_app
from tests.conftest import make_settings
from tests.helpers.server import running

ADMIN_KEY = "the-admin-key-of-the-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
IMMO: dict[str, Any] = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "estimator": "sklearn.linear_model.LinearRegression",
    "evaluation": {"holdout": 0.2, "seed": 42},
    "promotion": {"metric": "r2", "min": 0.8, "policy": "latest-passing"},
    "schedule": "every 1h",
}


def control_workspace(root: Path, registry_url: str, **training: Any) -> Workspace:
    """A workspace on ``registry_url`` whose ``immo`` training reads 300 demo rows."""
    data = f"sqlite:///{root / 'data.db'}"
    ws = Workspace(
        make_settings(
            root,
            registry_url,
            security={"admin_key": ADMIN_KEY},
            sources={"immo_db": {"url": data}},
            trainings={"immo": {**IMMO, **training}},
        )
    )
    ws.sources.demo_data("immo", "immo_db", 300, replace=True)
    return ws


@contextmanager
def serving_control(ws: Workspace) -> Iterator[str]:
    """Serve the control app of ``ws`` on loopback; yields its base URL."""
    with running(create_control_app(ws, follow_interval=0.2)) as base:
        yield base


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}
