"""Scoring a fitted model on held-out data with the quality metrics of
``modelyard.monitoring.metrics`` (re-exported here), and which metrics a run reports."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.monitoring.metrics import DEFAULTS, get_metric, safe


def metric_names(
    declared: tuple[str, ...] | None, classification: bool, *also: str | None
) -> tuple[str, ...]:
    """The metrics a run reports: those ``declared`` (else the task's defaults), plus any
    of ``also`` (the promotion's or the search's metric) not among them."""
    names = declared or DEFAULTS["classification" if classification else "regression"]
    for name in also:
        if name and name not in names:
            names = (*names, name)
    return names


def score(model: Any, features: Any, truth: Any, names: tuple[str, ...]) -> dict[str, float]:
    """Compute each named metric of ``model`` on ``features``/``truth`` (NaN if undefined)."""
    out: dict[str, float] = {}
    predictions: Any = None
    probabilities: Any = None
    for name in names:
        metric = get_metric(name)
        if metric.needs_proba:
            if not hasattr(model, "predict_proba"):
                continue
            if probabilities is None:
                probabilities = np.asarray(model.predict_proba(features))
            out[name] = safe(metric, truth, probabilities)
        else:
            if predictions is None:
                predictions = np.asarray(model.predict(features))
                if predictions.ndim == 2 and predictions.shape[1] == 1:
                    predictions = predictions.ravel()
            out[name] = safe(metric, truth, predictions)
    return out
