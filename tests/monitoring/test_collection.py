"""Collection through the real server: every scored row lands in the collection table;
while the store is locked, scoring goes on, the rows beyond the buffer are dropped and
counted, and writing resumes by itself once the lock is gone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.web.admin.app import create_control_app
from tests.conftest import PG_ADMIN_URL, _server_database, make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.monitoring import ADMIN, ADMIN_KEY, until
from tests.helpers.server import running


def workspace(root: Path, monitoring: dict[str, object]) -> Workspace:
    ws = Workspace(
        make_settings(
            root,
            f"sqlite:///{root / 'registry.db'}",
            security={"admin_key": ADMIN_KEY},
            monitoring=monitoring,
        )
    )
    model, frame = fitted_immo()
    ws.models.register("immo", model, input_example=frame)
    ws.models.promote("immo", 1)
    return ws


@pytest.fixture
def monitoring_db() -> Iterator[str]:
    """A PostgreSQL database of its own, as a separate monitoring database."""
    yield from _server_database(PG_ADMIN_URL, "PostgreSQL")


def counters(base: str) -> dict[str, int]:
    answer = httpx.get(f"{base}/api/v1/collection", headers=ADMIN)
    assert answer.status_code == 200
    counted: dict[str, int] = answer.json()
    return counted


def test_scored_rows_are_collected_as_sql_rows_with_what_answered(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {"flush_s": 0.05})
    key = (ws.endpoints.create("immo", model="immo@champion", collect=True).keys or {})["primary"]
    quiet = ws.endpoints.create("quiet", model="immo@champion", collect=True, sampling_rate=0.0)
    with running(create_control_app(ws, follow_interval=0.2)) as base:
        for _ in range(20):  # sampled at 0: nothing of these is collected
            httpx.post(
                f"{base}/endpoints/quiet/score",
                json={"data": [[30.0]]},
                headers={"Authorization": f"Bearer {(quiet.keys or {})['primary']}"},
            ).raise_for_status()
        answer = httpx.post(
            f"{base}/endpoints/immo/score",
            json={"data": [{"surface": 25.0}, {"surface": 40.0}]},
            headers={"Authorization": f"Bearer {key}", "x-request-id": "req-1"},
        )
        assert answer.status_code == 200
        bad = httpx.post(
            f"{base}/endpoints/immo/score",
            json={"data": [{"surface": "big"}]},
            headers={"Authorization": f"Bearer {key}", "x-request-id": "req-2"},
        )
        assert bad.status_code == 422
        until(lambda: counters(base)["modelyard_collection_written_total"] == 3)
    engine = sa.create_engine(ws.settings.database_url.reveal())
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT request_id, row_index, model, version, alias, inputs, outputs, status, "
            "error_code, latency_ms FROM collected_rows ORDER BY request_id, row_index"
        ).all()
    engine.dispose()
    assert [(r[0], r[1], r[2], r[3], r[4], r[7], r[8]) for r in rows] == [
        ("req-1", 0, "immo", 1, "champion", 200, None),
        ("req-1", 1, "immo", 1, "champion", 200, None),
        ("req-2", 0, "immo", 1, "champion", 422, "bad_value"),
    ]
    assert rows[0][5] == '{"surface":25.0}' and rows[2][5] is None
    assert abs(float(rows[0][6].split(":")[1].rstrip("}")) - answer.json()["predictions"][0]) < 1e-6
    assert all(r[9] is not None and r[9] >= 0 for r in rows)
    ws.close()


def test_rows_are_written_in_batches_not_one_transaction_per_request(tmp_path: Path) -> None:
    """Requests arriving steadily are written together once the oldest has waited
    ``flush_s``: the writer does not chase each request with a transaction and an Arrow
    block of its own (which cost a third of the server's CPU under load)."""
    ws = workspace(tmp_path, {"flush_s": 1.0, "batch_rows": 100_000, "queue_rows": 100_000})
    key = (ws.endpoints.create("immo", model="immo@champion", collect=True).keys or {})["primary"]
    sent = 0
    with (
        running(create_control_app(ws, follow_interval=0.2)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            client.post("/endpoints/immo/score", json={"data": [[20.0 + sent]]}).raise_for_status()
            sent += 1
        until(lambda: counters(base)["modelyard_collection_written_total"] == sent, timeout=15)
    engine = sa.create_engine(ws.settings.database_url.reveal())
    with engine.connect() as conn:
        blocks = conn.exec_driver_sql("SELECT count(*) FROM collected_blocks").scalar()
    engine.dispose()
    assert sent >= 50, f"only {sent} requests in 3 s: too few to tell"
    assert blocks is not None and blocks <= 6, f"{blocks} blocks for {sent} requests in 3 s"
    ws.close()


def test_a_locked_store_drops_and_counts_rows_and_writing_resumes_by_itself(
    tmp_path: Path, monitoring_db: str
) -> None:
    ws = workspace(
        tmp_path,
        {"database_url": monitoring_db, "queue_rows": 100, "batch_rows": 20, "flush_s": 0.02},
    )
    key = (ws.endpoints.create("immo", model="immo@champion", collect=True).keys or {})["primary"]
    locker = sa.create_engine(monitoring_db)
    with running(create_control_app(ws, follow_interval=0.2)) as base:
        lock = locker.connect()
        transaction = lock.begin()
        lock.exec_driver_sql("LOCK TABLE collected_rows IN ACCESS EXCLUSIVE MODE")
        failed = 0
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            for n in range(400):
                answer = client.post("/endpoints/immo/score", json={"data": [[20.0 + n]]})
                failed += answer.status_code != 200
        during = counters(base)
        assert failed == 0
        assert during["modelyard_collection_dropped_total"] >= 400 - 100 - 20
        assert during["modelyard_collection_written_total"] == 0
        transaction.rollback()  # the store answers again
        lock.close()
        until(lambda: counters(base)["modelyard_collection_queued_rows"] == 0)
        after = counters(base)
    locker.dispose()
    dropped = after["modelyard_collection_dropped_total"]
    assert after["modelyard_collection_written_total"] == 400 - dropped
    engine = sa.create_engine(monitoring_db)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM collected_rows").scalar()
    engine.dispose()
    assert stored == 400 - dropped
    ws.close()
