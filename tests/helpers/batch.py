"""Churn rows in a SQL source and a registered churn pipeline, for the batch tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelyard import Workspace
from modelyard.config.secret import SecretURL
from modelyard.sources.sql import SqlSource
from modelyard.training.demo_data import CHURN_CATEGORICAL, CHURN_NUMERIC, churn
from modelyard.types import OutputKind

FEATURES = [*CHURN_CATEGORICAL, *CHURN_NUMERIC]


def churn_rows(rows: int, seed: int = 0) -> pd.DataFrame:
    """Seed 003's churn rows with a unique integer ``id`` first."""
    frame = churn(rows, seed=seed)
    frame.insert(0, "id", np.arange(1, rows + 1, dtype="int64"))
    return frame


def fitted_pipeline(frame: pd.DataFrame) -> Pipeline:
    """One-hot + scaler + logistic regression, fitted on the first 2,000 rows."""
    head = frame.head(2000)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), list(CHURN_CATEGORICAL)),
        (StandardScaler(), list(CHURN_NUMERIC)),
    )
    return make_pipeline(encode, LogisticRegression(max_iter=500)).fit(
        head[FEATURES], head["Exited"]
    )


def register_churn(ws: Workspace, frame: pd.DataFrame, name: str = "churn") -> Pipeline:
    """Register (and promote) the churn pipeline as a probabilities model."""
    model = fitted_pipeline(frame)
    version = ws.models.register(
        name, model, input_example=frame[FEATURES].head(50), output_kind=OutputKind.PROBABILITIES
    )
    ws.models.promote(name, version.version)
    return model


def write_rows(url: str, frame: pd.DataFrame, table: str) -> None:
    """Write ``frame`` into a new ``table`` with ``id`` as its primary key."""
    engine = sa.create_engine(url)
    try:
        frame.head(0).to_sql(table, engine, index=False, if_exists="replace")
        if engine.dialect.name != "sqlite":
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD PRIMARY KEY (id)"))
    finally:
        engine.dispose()
    source = SqlSource("rows", SecretURL(url))
    try:
        source.write(pa.Table.from_pandas(frame, preserve_index=False), table)
    finally:
        source.close()


def read_sql(url: str, sql: str) -> pd.DataFrame:
    """A query's rows as a DataFrame."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(sql), conn)
    finally:
        engine.dispose()


def execute(url: str, sql: str) -> None:
    """Run one statement and commit it."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def unique_name(prefix: str) -> str:
    """A table name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def workspace_config(root: Path, source_url: str, **sources: str) -> Path:
    """``modelyard.toml`` with a SQLite registry and ``[sources.wh]`` (and ``sources``)."""
    lines = [
        "[registry]",
        'database_url = "sqlite:///registry.db"',
        'artifacts = "artifacts"',
        "[sources.wh]",
        f'url = "{source_url}"',
    ]
    for name, url in sources.items():
        lines += [f"[sources.{name}]", f'url = "{url}"']
    root.mkdir(parents=True, exist_ok=True)
    path = root / "modelyard.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_exactly_once(scores: pd.DataFrame, frame: pd.DataFrame, model: Any) -> None:
    """Every id once, and proba_1 equal to the pipeline's own predict_proba within 1e-6."""
    assert len(scores) == len(frame)
    assert scores["id"].is_unique
    ordered = scores.sort_values("id").reset_index(drop=True)
    assert ordered["id"].tolist() == frame["id"].tolist()
    expected = model.predict_proba(frame[FEATURES])[:, 1]
    assert np.abs(ordered["proba_1"].to_numpy() - expected).max() <= 1e-6
