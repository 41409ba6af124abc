"""Pushed promotions on PostgreSQL, polled ones on SQLite and MariaDB, through a real
server: when ``promote`` returns, the endpoint answers with the new version, preloaded or
not; a broken one is acknowledged and never served; a lost listener is reopened; a
stopped replica is no longer waited for."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.storage import replicas
from modelyard.storage.notifications import REPLICA
from modelyard.web.app import create_app
from tests.conftest import _empty, make_settings
from tests.helpers.models import register_constants
from tests.helpers.server import running

FRAME = pd.DataFrame({"x": [0.0, 1.0]})
LISTENERS = sa.text(
    "SELECT pid FROM pg_stat_activity"
    " WHERE application_name = :name AND datname = current_database()"
)


@pytest.fixture
def pg_workspace(tmp_path: Path, postgresql_url: str) -> Iterator[Workspace]:
    ws = Workspace(make_settings(tmp_path, postgresql_url))
    yield ws
    ws.close()


@pytest.fixture(params=["sqlite", "mariadb"])
def polled_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on a database that pushes nothing."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("mariadb_url")
        _empty(url)
    ws = Workspace(make_settings(tmp_path, url))
    yield ws
    ws.close()


def _register(ws: Workspace, name: str, k: float) -> int:
    (version,) = register_constants(ws, name, k)
    return version


def _served(base: str, name: str, key: str) -> str:
    """The version that answers a request sent now."""
    answer = httpx.post(
        f"{base}/endpoints/{name}/score",
        json={"data": [[0.0]]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200
    return answer.headers["x-model-version"]


def _new_then_broken(ws: Workspace, base: str, name: str, key: str) -> None:
    """When promote returns the endpoint serves a version too new to be preloaded; a broken
    one is acknowledged at once and never served."""
    ws.models.promote(name, _register(ws, name, 2.0))
    assert _served(base, name, key) == "2"
    broken = ws.registry.get_version(name, _register(ws, name, 3.0))
    blob = Path(ws.store.blob_path(broken.sha256))
    blob.chmod(0o644)
    blob.write_bytes(b"corrupted")
    began = time.monotonic()
    ws.models.promote(name, 3)
    assert time.monotonic() - began < 4  # acknowledged on failure, not waited out
    assert _served(base, name, key) == "2"
    failures = [e for e in ws.models.history(name) if e.kind.value == "load_failed"]
    assert failures and all("HashMismatch" in e.reason for e in failures)


def _listeners(ws: Workspace) -> list[int]:
    with ws.db.engine.connect() as conn:
        return [int(pid) for pid in conn.execute(LISTENERS, {"name": REPLICA}).scalars()]


def test_promote_returns_once_the_endpoint_serves_the_new_version(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    name = f"n{uuid.uuid4().hex[:8]}"
    _register(ws, name, 1.0)
    ws.models.promote(name, 1)
    key = (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
    app = create_app(ws, endpoints=[name], follow_interval=30.0)  # no poll to help
    with running(app) as base:
        assert _served(base, name, key) == "1"
        _new_then_broken(ws, base, name, key)

        (pid,) = _listeners(ws)
        with ws.db.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while _listeners(ws) in ([], [pid]):
            assert time.monotonic() < deadline, "the listener was not reopened"
            time.sleep(0.05)
        ws.models.promote(name, _register(ws, name, 4.0))
        assert _served(base, name, key) == "4"


def test_polled_promote_returns_once_the_endpoint_serves_the_new_version(
    polled_workspace: Workspace,
) -> None:
    ws = polled_workspace
    name = f"p{uuid.uuid4().hex[:8]}"
    _register(ws, name, 1.0)
    ws.models.promote(name, 1)
    key = (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
    app = create_app(ws, endpoints=[name], follow_interval=30.0)  # no endpoint poll to help
    with running(app) as base:
        assert _served(base, name, key) == "1"
        deadline = time.monotonic() + 5
        while replicas.lagging(ws.db, replicas.generation(ws.db).number + 1) != 1:
            assert time.monotonic() < deadline, "the replica did not join"
            time.sleep(0.05)
        _new_then_broken(ws, base, name, key)

        ws.models.promote(name, _register(ws, name, 4.0))
        assert _served(base, name, key) == "4"

    began = time.monotonic()  # the replica stopped: it left, nothing waits for it
    ws.models.promote(name, 2)
    assert time.monotonic() - began < 1.0
    assert replicas.lagging(ws.db, replicas.generation(ws.db).number + 1) == 0
