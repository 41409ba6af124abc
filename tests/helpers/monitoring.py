"""A monitored churn workspace written as a real ``modelyard.toml`` (so that the CLI opens
it too), and scoring rows through a running server with request ids."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from modelyard import Workspace
from modelyard.monitoring import wire
from modelyard.monitoring.observation import Observation
from modelyard.training.demo_data import churn, churn_training

ADMIN_KEY = "monitoring-tests-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def toml_value(value: Any) -> str:
    """``value`` as TOML (inline tables for mappings)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def toml_text(document: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document of ``[section]`` (dotted names allowed) tables."""
    lines: list[str] = []
    for section, table in document.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)


def churn_workspace(
    root: Path,
    endpoints: Mapping[str, Mapping[str, Any]],
    *,
    rows: int = 10_000,
    monitoring: Mapping[str, Any] | None = None,
) -> Workspace:
    """seed 003's churn training on ``rows`` demo rows in SQLite, ``[endpoints.*]``
    monitoring declarations, an admin key; written to ``root/modelyard.toml``."""
    document: dict[str, Mapping[str, Any]] = {
        "registry": {"database_url": "sqlite:///registry.db", "artifacts": "artifacts"},
        "security": {"admin_key": ADMIN_KEY},
        "sources.bank": {"url": "sqlite:///bank.db"},
        "trainings.churn": churn_training("bank", "churn"),
    }
    if monitoring:
        document["monitoring"] = monitoring
    for name, declaration in endpoints.items():
        document[f"endpoints.{name}"] = declaration
    (root / "modelyard.toml").write_text(toml_text(document), encoding="utf-8")
    ws = Workspace.from_config(root, env={})
    ws.sources.demo_data("churn", "bank", rows, replace=True)
    return ws


def like_training(rows: int, seed: int) -> pd.DataFrame:
    """Customers drawn as the training data were (with their true ``Exited``)."""
    return churn(rows, seed=seed)


def older_customers(rows: int, seed: int) -> pd.DataFrame:
    """Customers of 45 and over only: Age's distribution shifts, nothing else does, and
    whether they leave still follows the same rule (a covariate shift)."""
    pool = churn(rows * 4, seed=seed)
    picked = pool[pool["Age"] >= 45].head(rows).reset_index(drop=True)
    assert len(picked) == rows
    return picked


def score(
    base: str, key: str, frame: pd.DataFrame, prefix: str, *, per_request: int = 50
) -> list[str]:
    """POST ``frame`` (without ``Exited``) in requests of ``per_request`` rows, each with
    request id ``{prefix}-{n}``; returns the ids. Every answer must be 200."""
    features = frame.drop(columns=["Exited"], errors="ignore")
    ids = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        for n, start in enumerate(range(0, len(features), per_request)):
            rid = f"{prefix}-{n}"
            part = features.iloc[start : start + per_request]
            answer = client.post(
                "/endpoints/churn/score",
                json={"data": part.to_dict("records")},
                headers={"x-request-id": rid},
            )
            assert answer.status_code == 200, answer.text
            ids.append(rid)
    return ids


def labels_for(
    frame: pd.DataFrame, ids: list[str], *, per_request: int = 50
) -> list[dict[str, Any]]:
    """The feedback body items giving each scored row's true ``Exited``."""
    truth = frame["Exited"].to_numpy()
    return [
        {"request_id": ids[i // per_request], "row": i % per_request, "label": int(truth[i])}
        for i in range(len(truth))
    ]


def accuracy_of(model: Any, frame: pd.DataFrame) -> float:
    """What the model's accuracy on ``frame`` really is."""
    predicted = model.predict(frame.drop(columns=["Exited"]))
    return float(np.mean(np.asarray(predicted) == frame["Exited"].to_numpy()))


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait until ``check()`` holds (failing the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout:g} s"
        time.sleep(0.05)


class Kept:
    """A collector's sink that keeps the batches it is handed, decoded."""

    def __init__(self) -> None:
        self.items: list[Observation | wire.Group] = []

    def __call__(self, records: list[bytes]) -> None:
        self.items += wire.decode_batch(wire.batch(records))

    def close(self, timeout_s: float = 5.0) -> None:
        """Nothing to release."""
