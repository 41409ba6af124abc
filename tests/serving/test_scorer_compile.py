"""The scorer compiles each version it loads, says which path scores, and falls back exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from modelyard import Workspace
from modelyard.errors import ModelFailed
from modelyard.monitoring.profile import profile_frame
from modelyard.registry.registry import VersionInfo
from modelyard.registry.signature import infer_signature
from modelyard.serving.frame import from_rows
from modelyard.serving.samples import sample_frame
from modelyard.serving.scorer import Scorer
from modelyard.training.demo_data import churn
from modelyard.types import OutputKind

CATEGORICAL = ["Geography", "Gender"]
NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "IsActiveMember"]


def churn_xy(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    frame = churn(rows, seed=seed)
    return frame[CATEGORICAL + NUMERIC], frame["Exited"]


def register(ws: Workspace, name: str, model: Any, x: pd.DataFrame) -> Scorer:
    info = VersionInfo(
        signature=infer_signature(x, OutputKind.PROBABILITIES), profile=profile_frame(x)
    )
    ws.registry.register_object(name, model, info)
    scorer = Scorer(ws.registry, f"{name}:1")
    assert scorer.refresh()
    return scorer


def pipeline(numeric_step: Any, final: Any, encoder: Any = None) -> Pipeline:
    columns = ColumnTransformer(
        [
            ("onehot", encoder or OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("scale", numeric_step, NUMERIC),
        ]
    )
    return Pipeline([("columns", columns), ("model", final)])


def test_a_churn_version_scores_on_its_compiled_path(sqlite_workspace: Workspace) -> None:
    x, y = churn_xy(2000, seed=1)
    model = pipeline(StandardScaler(), XGBClassifier(n_estimators=40, max_depth=3)).fit(x, y)
    scorer = register(sqlite_workspace, "churn", model, x)
    current = scorer.current
    assert current is not None and current.compiled is not None
    assert current.path in ("numpy+onnxruntime", "numpy+xgboost-inplace")
    assert current.fallback_reason is None and current.compiled.rows == 200
    request = from_rows(
        [{**x.iloc[0].to_dict(), "Geography": "Italy"}, x.iloc[1].to_dict()],
        current.signature,
    )
    scored = scorer.score(request)
    assert scored.classes == [0, 1]
    assert np.abs(scored.predictions - model.predict_proba(request)).max() <= 1e-6
    columns = {name: request[name].to_numpy() for name in request.columns}
    assert np.array_equal(scorer.score(columns).predictions, scored.predictions)


def test_an_uncompiled_version_scores_with_the_original_and_says_why(
    sqlite_workspace: Workspace,
) -> None:
    x, y = churn_xy(500, seed=2)
    model = pipeline(MinMaxScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    scorer = register(sqlite_workspace, "minmax", model, x)
    current = scorer.current
    assert current is not None and current.path == "original" and current.compiled is None
    assert current.fallback_reason is not None and "MinMaxScaler" in current.fallback_reason
    frame = x.iloc[:5].reset_index(drop=True)
    assert np.array_equal(scorer.score(frame).predictions, model.predict_proba(frame))
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    assert np.array_equal(scorer.score(columns).predictions, model.predict_proba(frame))


def test_a_request_the_compiled_path_cannot_do_gets_the_originals_answer_or_error(
    sqlite_workspace: Workspace,
) -> None:
    x, y = churn_xy(500, seed=3)
    model = pipeline(StandardScaler(), LogisticRegression(), encoder=OneHotEncoder()).fit(x, y)
    scorer = register(sqlite_workspace, "strict", model, x)
    assert scorer.current is not None and scorer.current.path == "numpy-linear"
    unseen = x.iloc[:2].astype({"Geography": object}).reset_index(drop=True)
    unseen.loc[0, "Geography"] = "Italy"
    with pytest.raises(ValueError, match="unknown categor"):
        model.predict_proba(unseen)
    with pytest.raises(
        ModelFailed, match=r"strict:1 failed on this input: ValueError.*unknown categor"
    ):
        scorer.score(unseen)
    narrow = x.iloc[:3].astype({"Balance": np.float32}).reset_index(drop=True)
    assert np.array_equal(scorer.score(narrow).predictions, model.predict_proba(narrow))


def test_profile_samples_are_deterministic_and_hold_every_histogram_edge() -> None:
    x, _ = churn_xy(300, seed=4)
    signature = infer_signature(x, OutputKind.PROBABILITIES)
    profile = profile_frame(x)
    first = sample_frame(signature, profile)
    assert first.equals(sample_frame(signature, profile)) and len(first) == 200
    for name in ("Age", "NumOfProducts", "Balance"):
        edges = profile["features"][name]["edges"]
        if signature.inputs[x.columns.get_loc(name)].dtype == "int64":
            edges = [round(e) for e in edges]
        assert set(edges) <= set(first[name].astype(float)), name
    assert "\u2400unseen" in set(first["Geography"])
    assert set(first["Gender"]) - {"\u2400unseen"} == {"Female", "Male"}
