"""True values from a declared SQL source, read by the leading scheduler on its schedule
and joined to collected rows on the request id: the report's measured metrics follow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.monitoring.observation import Observation
from modelyard.storage.schema import utcnow
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.monitoring import until
from tests.helpers.webhooks import leading_scheduler


def test_labels_read_from_a_source_on_a_schedule_measure_the_model(tmp_path: Path) -> None:
    crm = f"sqlite:///{tmp_path / 'crm.db'}"
    ws = Workspace(
        make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'r.db'}",
            sources={"crm": {"url": crm}},
            endpoints={
                "immo": {
                    "labels": {
                        "source": "crm",
                        "query": "SELECT sale, price FROM sales",
                        "key": "sale",
                        "label": "price",
                        "every": "1s",
                    }
                }
            },
        )
    )
    model, frame = fitted_immo()
    ws.models.register("immo", model, input_example=frame)
    ws.models.promote("immo", 1)
    ws.endpoints.create("immo", model="immo@champion", collect=True)
    surfaces = np.array([20.0, 40.0, 60.0, 80.0])
    predicted = model.predict(frame.iloc[:0].assign(surface=surfaces).reset_index(drop=True))
    collector = ws.monitoring.collector()
    collector.start()
    for n, (surface, price) in enumerate(zip(surfaces, predicted, strict=True)):
        collector.offer(
            Observation(
                endpoint="immo",
                request_id=f"sale-{n}",
                scored_at=utcnow(),
                version=1,
                inputs={"surface": np.array([surface])},
                outputs=np.array([price]),
            )
        )
    collector.stop()
    engine = sa.create_engine(crm)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE sales (sale TEXT, price REAL)")
        truth = [
            (f"sale-{n}", float(p) + (1000.0 if n % 2 else -1000.0))
            for n, p in enumerate(predicted)
        ]
        conn.exec_driver_sql("INSERT INTO sales VALUES (?, ?)", truth)
    engine.dispose()
    assert ws.monitoring.report("immo", timeline=False).labelled == 0
    with leading_scheduler(ws):
        until(lambda: ws.monitoring.report("immo", timeline=False).labelled == 4)
    report = ws.monitoring.report("immo", timeline=False)
    assert report.measured["mae"] == pytest.approx(1000.0)
    assert report.measured["rmse"] == pytest.approx(1000.0)
    ws.close()
