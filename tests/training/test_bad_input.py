"""Every bad input: a clear one-line error, a failed run recorded, nothing promoted,
the champion unchanged."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from modelyard import Workspace
from modelyard.errors import ConfigError
from modelyard.types import RunState
from tests.conftest import make_settings

GOOD = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "estimator": "sklearn.linear_model.LinearRegression",
    "promotion": {"metric": "r2", "min": 0.8},
}


def _workspace(tmp_path: Path, bad: dict[str, Any], source_url: str | None = None) -> Workspace:
    data = f"sqlite:///{tmp_path / 'data.db'}"
    sources = {"immo_db": {"url": data}, "bad_db": {"url": source_url or data}}
    ws = Workspace(
        make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'registry.db'}",
            sources=sources,
            trainings={"immo": GOOD, "bad": {**GOOD, "model": "immo", **bad}},
        )
    )
    ws.sources.demo_data("immo", "immo_db", 200, seed=1)
    ws.sources.demo_data("immo", "immo_db", 50, table="cities", seed=1)
    assert ws.trainings.run("immo").version == 1  # the champion that must keep serving
    return ws


def _fails(ws: Workspace, expected: str) -> str:
    run = ws.trainings.run("bad")
    assert run.state is RunState.FAILED
    assert run.error is not None and expected in run.error, run.error
    assert "\n" not in run.error
    assert run.decision is None
    assert ws.models.get("immo").version == 1
    assert [v.version for v in ws.models.versions("immo")] == [1]
    assert ws.runs.get(run.id).state is RunState.FAILED
    return run.logs


def test_unreachable_database_hides_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://app:TopSecret9@127.0.0.1:1/immo?connect_timeout=2"
    ws = _workspace(tmp_path, {"source": "bad_db"}, source_url=url)
    logs = _fails(ws, "source_unreachable: source bad_db (postgresql+psycopg://app:***@127.0.0.1:1")
    run = ws.runs.list("bad")[0]
    assert "TopSecret9" not in (run.error or "") + logs


def test_sql_syntax_error_gives_the_database_message_and_the_query(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"query": "SELEC surface, prix FROM immo"})
    _fails(ws, "query_failed")
    error = ws.runs.list("bad")[0].error or ""
    assert "syntax error" in error and "query: SELEC surface, prix FROM immo" in error


def test_empty_result(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"query": "SELECT surface, prix FROM immo WHERE prix < 0"})
    _fails(ws, "empty_result: source immo_db returned no rows")


def test_missing_target_lists_the_columns(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"target": "price"})
    _fails(
        ws,
        "missing_column: column price not in the data of training bad; "
        "the columns are: surface, prix",
    )


def test_non_numeric_feature_names_the_column(tmp_path: Path) -> None:
    query = "SELECT surface, prix, 'Paris' AS city FROM immo"
    ws = _workspace(tmp_path, {"query": query})
    _fails(ws, "non-numeric columns: city")


def test_estimator_path_that_does_not_exist(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"estimator": "sklearn.linear_model.LinearRegresion"})
    _fails(
        ws,
        "config_invalid: estimator import path 'sklearn.linear_model.LinearRegresion' "
        "does not exist",
    )
    ws2 = _workspace(tmp_path / "b", {"estimator": "sklearnx.Linear"})
    _fails(ws2, "No module named 'sklearnx'")


def test_script_that_raises_keeps_its_traceback_in_the_logs(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text(
        "def train(df, params):\n    print('starting')\n    raise RuntimeError('bad data')\n"
    )
    ws = _workspace(tmp_path, {"estimator": None, "script": "boom.py"})
    logs = _fails(ws, "script_failed: training script boom.py raised RuntimeError: bad data")
    assert "starting" in logs and "Traceback" in logs and 'boom.py", line 3' in logs


def test_script_returning_something_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "nope.py").write_text("def train(df, params):\n    return {'lr': 1}\n")
    ws = _workspace(tmp_path, {"estimator": None, "script": "nope.py"})
    _fails(ws, "not_a_model: nope.py returned dict, not a model")


def test_unknown_metric(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"promotion": {"metric": "r3", "min": 0.8}})
    _fails(ws, "unknown metric 'r3': known metrics are r2, rmse, mae")


def test_nan_metric(tmp_path: Path) -> None:
    (tmp_path / "nan.py").write_text(
        "import numpy as np\n"
        "from sklearn.linear_model import LinearRegression\n"
        "def train(df, params):\n"
        "    model = LinearRegression().fit(df[['surface']], df['prix'])\n"
        "    model.intercept_ = np.nan\n"
        "    return model\n"
    )
    ws = _workspace(tmp_path, {"estimator": None, "script": "nan.py"})
    _fails(ws, "metric_nan: metric r2 is NaN")


def test_unknown_training_is_a_config_error_listing_the_declared(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / uuid.uuid4().hex, {})
    with pytest.raises(ConfigError, match=r"declared: bad, immo"):
        ws.trainings.run("imo")


def test_a_scripts_output_is_captured_without_swallowing_other_threads(tmp_path: Path) -> None:
    (tmp_path / "chatty.py").write_text(
        "import time\n"
        "from sklearn.linear_model import LinearRegression\n"
        "def train(df, params):\n"
        "    print('from the script')\n"
        "    time.sleep(0.3)\n"
        "    return LinearRegression().fit(df[['surface']], df['prix'])\n"
    )
    ws = _workspace(tmp_path, {"estimator": None, "script": "chatty.py"})
    seen: list[str] = []

    def other_thread() -> None:
        time.sleep(0.1)
        print("from another thread")
        seen.append("printed")

    thread = threading.Thread(target=other_thread)
    thread.start()
    run = ws.trainings.run("bad")
    thread.join()
    assert run.state is RunState.SUCCEEDED
    assert "from the script" in run.logs and "from another thread" not in run.logs
