"""``modelyard up`` as a real process on PostgreSQL: seed 000's retraining loop. The
schedule retrains every few seconds; better rows reach the endpoint as a new version,
noisy rows fail the gate (the run succeeds, its version is kept) and the endpoint stays on
the last good version."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.types import Outcome, RunState
from tests.conftest import _empty
from tests.helpers.control import ADMIN, ADMIN_KEY, bearer
from tests.helpers.processes import started
from tests.helpers.server import free_port

SCHEDULE_S = 5


def write_workspace(root: Path, registry_url: str, table: str, *, admin_key: bool = True) -> None:
    """``modelyard.toml`` with seed 000's training on ``table``, retrained on a schedule."""
    security = f'[security]\nadmin_key = "{ADMIN_KEY}"\n' if admin_key else ""
    (root / "modelyard.toml").write_text(
        f"""\
[registry]
database_url = "{registry_url}"
artifacts = "artifacts"

{security}
[sources.immo_db]
url = "{registry_url}"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM {table}"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
evaluation = {{ holdout = 0.2, seed = 42 }}
promotion = {{ metric = "r2", min = 0.8, policy = "latest-passing" }}
schedule = "every {SCHEDULE_S}s"
"""
    )


@pytest.fixture
def table(postgresql_url: str) -> Iterator[str]:
    """A fresh table name in the session's PostgreSQL database, dropped afterwards."""
    name = f"immo_{uuid.uuid4().hex[:8]}"
    yield name
    engine = sa.create_engine(postgresql_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    engine.dispose()


@pytest.mark.slow
def test_up_retrains_on_schedule_and_the_endpoint_follows(
    postgresql_url: str, table: str, tmp_path: Path
) -> None:
    _empty(postgresql_url)
    write_workspace(tmp_path, postgresql_url, table)
    ws = Workspace.from_config(tmp_path)
    ws.sources.demo_data("immo", "immo_db", 400, table=table, seed=1, replace=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ("up", "--port", str(port), "--heartbeat", "1", "--drain-seconds", "0")
    with started(tmp_path, *args) as up:
        up.wait_ready(base)
        made = httpx.post(
            f"{base}/api/v1/endpoints",
            json={"name": "immo", "model": "immo@champion"},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        key = made.json()["keys"]["primary"]

        def served() -> int | None:
            answer = httpx.post(
                f"{base}/endpoints/immo/score", json={"data": [[25.0]]}, headers=bearer(key)
            )
            return int(answer.headers["x-model-version"]) if answer.status_code == 200 else None

        def fingerprint(version: int) -> str:
            return str(ws.models.get("immo", version=version).lineage["data_fingerprint"])

        up.wait_for(lambda: served() is not None, 30, "a first version served")
        first = served()
        assert first is not None
        old = fingerprint(first)

        # better rows: a version trained on them is served within ~30 s
        ws.sources.demo_data("immo", "immo_db", 400, table=table, seed=2, replace=True)
        took = up.wait_for(
            lambda: (v := served()) is not None and fingerprint(v) != old, 30, "a retrained version"
        )
        good = served()
        assert good is not None and good > first
        print(f"new data served after {took:.1f} s")  # visible with -s

        # noisy rows: the gate keeps the new version, the endpoint stays on the champion
        noisy_since = time.time()
        ws.sources.demo_data("immo", "immo_db", 400, table=table, seed=3, noisy=True, replace=True)

        def kept() -> bool:
            return any(
                run.state is RunState.SUCCEEDED
                and run.decision is not None
                and run.decision.outcome is Outcome.KEEP
                and run.created_at.timestamp() > noisy_since
                for run in ws.runs.list("immo", limit=10)
            )

        up.wait_for(kept, 30, "a run whose gate kept its version")
        champion = ws.models.get("immo").version
        runs = httpx.get(f"{base}/api/v1/runs", params={"training": "immo"}, headers=ADMIN).json()
        keep = next(r for r in runs if r["decision"] and r["decision"]["outcome"] == "keep")
        assert keep["state"] == "succeeded" and keep["trigger"] == "schedule"
        assert keep["version"] > champion and keep["metrics"]["r2"] < 0.8
        assert "champion stays" in keep["decision"]["reason"]
        time.sleep(1.5)  # longer than the endpoint's follow interval
        assert served() == champion == ws.models.get("immo").version
        assert fingerprint(champion) != fingerprint(keep["version"])

        assert up.terminate() == 0, up.output()
        output = up.output()
        assert "Traceback" not in output and "modelyard control plane stopped" in output
    ws.close()


def test_up_refuses_to_start_without_an_admin_key(tmp_path: Path) -> None:
    write_workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", "immo", admin_key=False)
    with started(tmp_path, "up", "--port", str(free_port()), env={"MODELYARD_ADMIN_KEY": ""}) as up:
        assert up.popen.wait(timeout=60) == 1
        output = up.output()
    assert "modelyard up needs an admin key" in output
    assert "MODELYARD_ADMIN_KEY" in output and "Traceback" not in output
