"""Held-out evaluation: a seeded holdout split, or k-fold cross-validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from modelyard.training.metrics import score
from modelyard.training.spec import Evaluation


@dataclass
class Split:
    """Training and held-out parts of the data."""

    x_train: pd.DataFrame
    y_train: pd.Series[Any]
    x_test: pd.DataFrame
    y_test: pd.Series[Any]


def _stratify(evaluation: Evaluation, y: pd.Series[Any], classification: bool) -> Any:
    wanted = evaluation.stratify if evaluation.stratify is not None else classification
    if not wanted:
        return None
    counts = y.value_counts()
    return y if counts.min() >= 2 else None


def holdout(
    x: pd.DataFrame, y: pd.Series[Any], evaluation: Evaluation, classification: bool
) -> Split:
    """A seeded train/test split (stratified for classification when possible)."""
    assert evaluation.holdout is not None
    x_train, x_test, y_train, y_test = train_test_split(
        x,
        y,
        test_size=evaluation.holdout,
        random_state=evaluation.seed,
        stratify=_stratify(evaluation, y, classification),
    )
    return Split(x_train, y_train, x_test, y_test)


def cross_validate(
    fit: Callable[[pd.DataFrame, pd.Series[Any]], Any],
    x: pd.DataFrame,
    y: pd.Series[Any],
    evaluation: Evaluation,
    classification: bool,
    metrics: tuple[str, ...],
) -> dict[str, float]:
    """Mean of each metric over ``cv`` seeded folds, each fitted by ``fit``."""
    assert evaluation.cv is not None
    stratified = _stratify(evaluation, y, classification) is not None
    splitter: Any = (
        StratifiedKFold(evaluation.cv, shuffle=True, random_state=evaluation.seed)
        if stratified
        else KFold(evaluation.cv, shuffle=True, random_state=evaluation.seed)
    )
    folds: dict[str, list[float]] = {}
    for train_idx, test_idx in splitter.split(x, y):
        model = fit(x.iloc[train_idx], y.iloc[train_idx])
        for name, value in score(model, x.iloc[test_idx], y.iloc[test_idx], metrics).items():
            folds.setdefault(name, []).append(value)
    return {name: float(np.mean(values)) for name, values in folds.items()}
