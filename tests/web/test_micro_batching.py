"""Adaptive micro-batching: concurrent requests share one model call; one bad request
fails alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelyard import Workspace
from modelyard.web.app import create_app
from tests.conftest import make_settings
from tests.helpers.server import running


def test_concurrent_requests_are_scored_in_fewer_batches_and_errors_stay_their_own(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame({"city": ["Paris", "Lyon"] * 10})
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(frame, [1, 0] * 10)
    ws = Workspace(make_settings(tmp_path, f"sqlite:///{tmp_path / 'r.db'}"))
    ws.models.register("city", model, input_example=frame)
    ws.models.promote("city", 1)
    ws.endpoints.create("city", model="city", batch_max_rows=64, batch_max_wait_ms=50)
    app = create_app(ws, require_keys=False)
    cities = ["Paris", "Lyon", "Nice"] + ["Paris", "Lyon"] * 7
    with running(app) as base, ThreadPoolExecutor(len(cities)) as pool:
        answers = list(
            pool.map(
                lambda city: httpx.post(
                    f"{base}/endpoints/city/score", json={"data": [[city]]}, timeout=30
                ),
                cities,
            )
        )
        batches = app.state.runtime.batcher("city").batches
    expected = {c: model.predict(pd.DataFrame({"city": [c]})).tolist() for c in ("Paris", "Lyon")}
    for city, answer in zip(cities, answers, strict=True):
        if city == "Nice":
            assert answer.status_code == 400 and answer.json()["code"] == "model_error"
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == expected[city]
    assert batches < len(cities)
    ws.close()
