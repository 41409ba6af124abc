"""Issue 13 item 4 through a real ``modelyard serve`` process: decoding and encoding run off
the event loop above a small size and count inside the request timeout (a body that takes
longer to decode than ``--timeout`` is a 504, not a late 200), and one request may hold at
most so many values (rows x columns: a clear 413)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pandas as pd
import pytest

from modelyard.serving.offload import MAX_CELLS
from tests.security.serving import Served, immo_workspace, serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root: Path = tmp_path_factory.mktemp("offload")
    ws, key = immo_workspace(root)
    ws.close()
    with serving(root, key, "--timeout", "0.5", "--max-body-mb", "64") as server:
        yield server


def test_a_body_too_slow_to_decode_is_a_504_and_health_keeps_answering(served: Served) -> None:
    rows = 2_000_000
    body = orjson.dumps({"dataframe_records": [{"surface": 50.0 + i % 7} for i in range(rows)]})
    answers: dict[str, object] = {}

    def big() -> None:
        answers["big"] = httpx.post(
            f"{served.base}/endpoints/immo/score",
            content=body,
            headers={**served.auth, "Content-Type": "application/json"},
            timeout=120,
        )
        answers["big_done"] = time.monotonic()

    thread = threading.Thread(target=big)
    thread.start()
    lives = []
    while thread.is_alive():
        lives.append(httpx.get(f"{served.base}/v2/health/live", timeout=60).status_code)
        time.sleep(0.05)
    thread.join()
    answer = answers["big"]
    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 504, answer.text[:300]
    assert answer.json()["code"] == "timeout"
    assert lives and set(lives) == {200}


def test_rows_times_columns_over_the_bound_is_a_413(served: Served) -> None:
    rows = MAX_CELLS + 1
    frame = pd.DataFrame({"surface": [50.0] * rows})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    answer = httpx.post(
        f"{served.base}/endpoints/immo/score",
        content=buffer.getvalue(),
        headers={**served.auth, "Content-Type": "application/vnd.apache.parquet"},
        timeout=120,
    )
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["code"] == "payload_too_large"
    assert f"{rows} rows x 1 columns" in answer.json()["message"]
