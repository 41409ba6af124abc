"""An entry script's ``ModelDataCollector`` writes to the workspace's collection table
through the replica that hosts it (not to CSV files on the replica's disk), tagged with
the request's id, beside the request's own status and latency."""

from __future__ import annotations

import pickle
from pathlib import Path

import httpx
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.storage import schema
from modelyard.web.app import create_app
from tests.conftest import make_settings
from tests.helpers.monitoring import until
from tests.helpers.server import running

SCORE = """
import json
from azureml.monitoring import ModelDataCollector

def init():
    global inputs_dc, predictions_dc
    inputs_dc = ModelDataCollector("factor", designation="inputs", feature_names=["age", "city"])
    predictions_dc = ModelDataCollector("factor", designation="predictions", model_version="1")

def run(raw_data):
    rows = json.loads(raw_data)["data"]
    inputs_dc.collect(rows)
    scores = [[row[0] * 2] for row in rows]
    predictions_dc.collect(scores)
    return scores
"""


def collected(ws: Workspace) -> list[tuple[str, str, str, int, str | None, int]]:
    c = schema.collected_rows.c
    engine = sa.create_engine(ws.settings.database_url.reveal())
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                c.source,
                c.designation,
                c.request_id,
                c.row_index,
                sa.cast(c.inputs, sa.Text),
                c.status,
            ).order_by(c.source, c.designation, c.row_index)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_model_data_collector_rows_reach_the_collection_table(tmp_path: Path) -> None:
    ws = Workspace(
        make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'r.db'}",
            monitoring={"flush_s": 0.05},
        )
    )
    (tmp_path / "factor.pkl").write_bytes(pickle.dumps(2.0))
    ws.models.register("factor", tmp_path / "factor.pkl", allow_pickle=True)
    script = tmp_path / "score.py"
    script.write_text(SCORE)
    endpoint = ws.endpoints.deploy_script(
        "scored", entry_script=script, models=["factor:1"], collect=True, auth_enabled=False
    )
    assert endpoint.collect
    with running(create_app(ws, follow_interval=0.2)) as base:
        assert ws.endpoints.wait("scored", timeout_s=60).state == "healthy", ws.endpoints.logs(
            "scored"
        )
        answer = httpx.post(
            f"{base}/endpoints/scored/score",
            json={"data": [[32, "Paris"], [41, "Lyon"]]},
            headers={"x-request-id": "req-7"},
        )
        assert answer.status_code == 200, answer.text
        until(lambda: len(collected(ws)) == 5)
    rows = collected(ws)
    assert rows == [
        ("collector", "inputs", "req-7", 0, '{"age":32,"city":"Paris"}', 200),
        ("collector", "inputs", "req-7", 1, '{"age":41,"city":"Lyon"}', 200),
        ("collector", "predictions", "req-7", 0, '{"c0":64}', 200),
        ("collector", "predictions", "req-7", 1, '{"c0":82}', 200),
        ("script", "", "req-7", 0, None, 200),
    ]
    app_root = next((tmp_path / ".modelyard" / "endpoints" / "scored").iterdir())
    assert not (app_root / "modeldata").exists()  # nothing on the replica's disk
    report = ws.monitoring.report("scored", timeline=False)
    assert (report.rows, report.requests, report.drift) == (2, 1, None)
    assert any('declare reference = "model:version"' in note for note in report.notes)
    ws.close()
