"""Quality metrics, each knowing whether higher is better and what predictions it needs.

Training evaluates held-out data with them; monitoring measures live rows that have
labels with the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from modelyard.errors import ConfigError


@dataclass(frozen=True)
class Metric:
    """A named score of predictions against truth."""

    name: str
    higher_is_better: bool
    task: str  # "regression" or "classification"
    needs_proba: bool
    fn: Callable[[Any, Any], float]


def _rmse(y: Any, p: Any) -> float:
    return float(math.sqrt(skm.mean_squared_error(y, p)))


def _roc_auc(y: Any, proba: Any) -> float:
    proba = np.asarray(proba)
    if proba.ndim == 2 and proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr"))


def _f1(y: Any, p: Any) -> float:
    average = "binary" if len(np.unique(y)) <= 2 else "macro"
    return float(skm.f1_score(y, p, average=average))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("r2", True, "regression", False, lambda y, p: float(skm.r2_score(y, p))),
        Metric("rmse", False, "regression", False, _rmse),
        Metric(
            "mae", False, "regression", False, lambda y, p: float(skm.mean_absolute_error(y, p))
        ),
        Metric(
            "accuracy", True, "classification", False, lambda y, p: float(skm.accuracy_score(y, p))
        ),
        Metric("f1", True, "classification", False, _f1),
        Metric("roc_auc", True, "classification", True, _roc_auc),
        Metric("log_loss", False, "classification", True, lambda y, p: float(skm.log_loss(y, p))),
    )
}
DEFAULTS = {
    "regression": ("r2", "rmse", "mae"),
    "classification": ("accuracy", "f1", "roc_auc", "log_loss"),
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``; a ``ConfigError`` lists the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(
            f"unknown metric {name!r}: known metrics are {', '.join(METRICS)}"
        ) from None


def safe(metric: Metric, truth: Any, predicted: Any) -> float:
    """The metric, or NaN where it is undefined (NaN predictions, a single class, …)."""
    try:
        return metric.fn(truth, predicted)
    except ValueError:
        return float("nan")
