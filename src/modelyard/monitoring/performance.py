"""Measured performance (rows with labels), and the service's latency and error rate.

Classes are matched by name: a label ``1``, ``1.0`` or ``"1"`` is the class ``1`` whose
probability the model answered. Classification rows give accuracy, F1 (macro beyond two
classes), ROC AUC and log-loss; regression rows give r2, RMSE and MAE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from modelyard.monitoring.metrics import DEFAULTS, get_metric, safe

Array = np.ndarray[Any, Any]
PROBA = "proba."


def class_key(value: Any) -> str:
    """A class's name, the same for ``1``, ``1.0`` and ``"1"``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    return str(value)


def parse_labels(texts: Sequence[str]) -> list[Any]:
    """Label values stored as JSON text."""
    if not texts:
        return []
    values: list[Any] = orjson.loads(("[" + ",".join(texts) + "]").encode())
    return values


def proba_columns(outputs: Iterable[Any]) -> list[str]:
    """The classes of the ``proba.<class>`` columns of collected outputs (a DataFrame or
    columns by name), in order."""
    return [str(c)[len(PROBA) :] for c in outputs if str(c).startswith(PROBA)]


def measured(outputs: pd.DataFrame, labels: Sequence[Any]) -> dict[str, float]:
    """The metrics of the model's outputs against ``labels`` (one per row)."""
    classes = proba_columns(outputs)
    if not len(labels) or "prediction" not in outputs.columns:
        return {}
    if classes:
        return _classification(outputs, labels, classes)
    truth = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy(dtype="float64")
    predicted = pd.to_numeric(outputs["prediction"], errors="coerce").to_numpy(dtype="float64")
    keep = ~(np.isnan(truth) | np.isnan(predicted))
    if not keep.any():
        return {}
    return {n: safe(get_metric(n), truth[keep], predicted[keep]) for n in DEFAULTS["regression"]}


def _classification(
    outputs: pd.DataFrame, labels: Sequence[Any], classes: list[str]
) -> dict[str, float]:
    index = {name: i for i, name in enumerate(classes)}
    truth = np.array([index.get(class_key(v), -1) for v in labels])
    predicted = np.array([index.get(class_key(v), -1) for v in outputs["prediction"]])
    proba = outputs[[PROBA + c for c in classes]].to_numpy(dtype="float64")
    keep = (truth >= 0) & (predicted >= 0) & ~np.isnan(proba).any(axis=1)
    if not keep.any():
        return {}
    truth, predicted, proba = truth[keep], predicted[keep], proba[keep]
    out: dict[str, float] = {}
    for name in DEFAULTS["classification"]:
        metric = get_metric(name)
        if name == "log_loss":
            out[name] = _log_loss(truth, proba)
        else:
            out[name] = safe(metric, truth, proba if metric.needs_proba else predicted)
    return out


def _log_loss(truth: Array, proba: Array) -> float:
    chosen = np.clip(proba[np.arange(truth.size), truth], 1e-15, 1.0)
    return float(-np.mean(np.log(chosen)))


def service(latency_ms: Array, status: Array) -> dict[str, Any]:
    """Requests, latency percentiles (ms, NaN: unknown) and error rate (status >= 400)."""
    codes = np.asarray(status, dtype="int64")
    times = np.asarray(latency_ms, dtype="float64")
    times = times[~np.isnan(times)]
    requests = int(codes.size)
    percentiles = (
        dict(
            zip(
                ("p50", "p90", "p99"),
                (float(v) for v in np.percentile(times, [50, 90, 99])),
                strict=True,
            )
        )
        if times.size
        else {}
    )
    errors = int((codes >= 400).sum())
    return {
        "requests": requests,
        "errors": errors,
        "server_errors": int((codes >= 500).sum()),
        "error_rate": errors / requests if requests else None,
        "latency_ms": percentiles,
    }
