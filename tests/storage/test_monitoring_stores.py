"""The monitoring row stores on SQLite, PostgreSQL and MariaDB: collected rows and their
blocks, labels joined to rows, retention, the events feed, policy states."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.monitoring.blocks import decode
from modelyard.monitoring.observation import Observation
from modelyard.storage import schema
from modelyard.storage.schema import utcnow
from tests.helpers.models import fitted_immo


def test_rows_blocks_labels_and_retention(workspace: Workspace) -> None:
    store = workspace.monitoring.collection
    now = utcnow()
    collector = workspace.monitoring.collector()
    collector.start()
    for n, at in enumerate((now - timedelta(days=40), now)):
        collector.offer(
            Observation(
                endpoint="immo",
                request_id=f"r{n}",
                scored_at=at,
                version=1,
                inputs={"surface": np.array([20.0 + n, 30.0])},
                outputs=np.array([1.5, 2.5]),
                latency_ms=1.0,
            )
        )
        assert collector.flush()  # one batch (one block) each
    collector.stop()
    assert collector.stats().written == 4 and collector.stats().dropped == 0
    rows_table = schema.collected_rows.c
    with workspace.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(rows_table.request_id, sa.cast(rows_table.inputs, sa.Text)).order_by(
                rows_table.request_id, rows_table.row_index
            )
        ).all()
    assert [(r[0], orjson.loads(r[1])["surface"]) for r in rows] == [
        ("r0", 20.0),
        ("r0", 30.0),
        ("r1", 21.0),
        ("r1", 30.0),
    ]
    recent = store.blocks("immo", now - timedelta(days=1), now + timedelta(seconds=1))
    table = decode(recent)
    assert len(recent) == 1 and table.column("in:surface").to_pylist() == [21.0, 30.0]
    assert store.put_labels("immo", [("r1", 1, "3.0"), ("r1", 1, "4.0")], origin="api") == 1
    labelled = store.labelled("immo", now - timedelta(days=1), now + timedelta(seconds=1))
    assert [orjson.loads(v) for v in labelled.labels] == [4.0]
    assert orjson.loads(labelled.outputs[0]) == {"prediction": 2.5}
    assert store.matched("immo", ["r1", "nope"]) == 2
    assert workspace.monitoring.purge() == 2  # keep_days = 30: the 40-day-old request goes
    remaining = decode(store.blocks("immo", now - timedelta(days=50), now + timedelta(seconds=1)))
    assert remaining.num_rows == 2


def test_the_feed_copies_registry_events_once_and_policy_states_act_once(
    workspace: Workspace,
) -> None:
    model, frame = fitted_immo()
    workspace.models.register("immo", model, input_example=frame)
    workspace.models.promote("immo", 1)
    feed = workspace.monitoring.feed
    assert feed.sync() == 2 and feed.sync() == 0
    kinds = [e.kind for e in workspace.monitoring.events()]
    assert kinds == ["version_registered", "alias_moved"]
    first = feed.append("drift_detected", "immo", {"n": 1}, origin="drift:immo:1")
    assert (
        first is not None
        and feed.append("drift_detected", "immo", {}, origin="drift:immo:1") is None
    )
    states = workspace.monitoring.states
    moment = utcnow()
    assert states.breach("immo", "psi > 0.2", value=0.3, reason="r", at=moment)
    assert not states.breach("immo", "psi > 0.2", value=0.4, reason="r", at=moment)
    states.clear("immo", "psi > 0.2", value=0.1, at=moment)
    assert states.breach("immo", "psi > 0.2", value=0.5, reason="again", at=moment)
