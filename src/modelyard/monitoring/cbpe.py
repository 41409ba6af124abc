"""Confidence-based performance estimation (CBPE): a classifier's accuracy without labels.

At training, each class's predicted probability is calibrated against the truth of the
held-out rows (isotonic regression) and the curve is stored with the version. On live
rows, the calibrated probabilities give the expected confusion matrix: a row predicted
positive with calibrated probability p adds p to the true positives and 1 - p to the
false positives, and so on; accuracy, precision, recall, F1 and ROC AUC follow from it.
It holds as long as the relation between inputs and truth does not change (covariate
shift, not concept drift). The sampling band is the 2.5-97.5 % range of the metric over
labels drawn from the calibrated probabilities: how far the measured value may fall from
the estimate by chance alone, on a window of that size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

Array = np.ndarray[Any, Any]
BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
DRAWS = 100
DRAW_ROWS = 10_000  # the band is drawn on at most this many rows, then scaled


@dataclass(frozen=True)
class Estimate:
    """An estimated metric and its sampling band."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready."""
        return {"value": self.value, "low": self.low, "high": self.high}


def fit_calibration(probabilities: Array, truth: Array, classes: Sequence[Any]) -> dict[str, Any]:
    """Per-class isotonic curves of ``truth == class`` against its predicted probability
    (for two classes, the positive one's only), JSON-ready."""
    proba = np.asarray(probabilities, dtype="float64")
    labels = np.asarray(truth)
    columns = [1] if len(classes) == 2 else list(range(len(classes)))
    curves = []
    for j in columns:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(proba[:, j], (labels == classes[j]).astype("float64"))
        curves.append(
            {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}
        )
    return {"classes": [_plain(c) for c in classes], "curves": curves, "rows": int(labels.size)}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def calibrated(probabilities: Array, calibration: Mapping[str, Any]) -> Array:
    """The calibrated probability of each class, rows summing to one."""
    proba = np.asarray(probabilities, dtype="float64")
    curves = calibration["curves"]
    if proba.shape[1] == 2 and len(curves) == 1:
        positive = np.interp(proba[:, 1], curves[0]["x"], curves[0]["y"])
        return np.column_stack([1.0 - positive, positive])
    out = np.column_stack([np.interp(proba[:, j], c["x"], c["y"]) for j, c in enumerate(curves)])
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), proba)


def _binary(positive: Array, predicted: Array, truth: Array | None = None) -> dict[str, float]:
    """Binary metrics from expected (``truth`` None) or drawn labels."""
    p = positive if truth is None else truth.astype("float64")
    tp = float(np.sum(p[predicted]))
    fp = float(np.sum(1.0 - p[predicted]))
    fn = float(np.sum(p[~predicted]))
    tn = float(np.sum(1.0 - p[~predicted]))
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
    }


def _auc(order: Array, p: Array) -> float:
    """ROC AUC with rows ranked by ``order`` and (expected) positives ``p``."""
    ranked = p[order]
    positives, negatives = ranked.sum(), (1.0 - ranked).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    tpr = np.concatenate([[0.0], np.cumsum(ranked) / positives])
    fpr = np.concatenate([[0.0], np.cumsum(1.0 - ranked) / negatives])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _values(proba: Array, cal: Array, predicted: Array) -> dict[str, float]:
    """The expected metrics."""
    if proba.shape[1] == 2:
        positive = cal[:, 1]
        order = np.argsort(-proba[:, 1], kind="stable")
        return {**_binary(positive, predicted == 1), "roc_auc": _auc(order, positive)}
    return {"accuracy": float(np.mean(cal[np.arange(proba.shape[0]), predicted]))}


def estimate(
    probabilities: Array, calibration: Mapping[str, Any], *, band: bool = True
) -> dict[str, Estimate]:
    """The estimated metrics of rows scored with these probabilities (the model's
    prediction is the most probable class); without ``band``, the values alone (each
    band then the value itself)."""
    proba = np.asarray(probabilities, dtype="float64")
    if proba.ndim != 2 or proba.shape[0] == 0:
        return {}
    cal = calibrated(proba, calibration)
    predicted = proba.argmax(axis=1)
    if not band:
        return {
            k: Estimate(v, v, v)
            for k, v in _values(proba, cal, predicted).items()
            if not np.isnan(v)
        }
    rng = np.random.default_rng(0)
    n = proba.shape[0]
    pick = rng.choice(n, DRAW_ROWS, replace=False) if n > DRAW_ROWS else np.arange(n)
    scale = np.sqrt(pick.size / n)
    values = _values(proba, cal, predicted)
    if proba.shape[1] == 2:
        positive, is_positive = cal[:, 1], predicted == 1
        sub_p, sub_pred = positive[pick], is_positive[pick]
        sub_order = np.argsort(-proba[pick, 1], kind="stable")
        draws: dict[str, list[float]] = {k: [] for k in BINARY_METRICS}
        for _ in range(DRAWS):
            truth = rng.random(pick.size) < sub_p
            for key, value in _binary(sub_p, sub_pred, truth).items():
                draws[key].append(value)
            draws["roc_auc"].append(_auc(sub_order, truth.astype("float64")))
    else:
        sub, sub_pred = cal[pick], predicted[pick]
        cumulative = np.cumsum(sub, axis=1)
        draws = {"accuracy": []}
        for _ in range(DRAWS):
            drawn = (rng.random((pick.size, 1)) > cumulative).sum(axis=1)
            draws["accuracy"].append(float(np.mean(drawn == sub_pred)))
    out: dict[str, Estimate] = {}
    for key, value in values.items():
        spread = np.array([d for d in draws[key] if not np.isnan(d)])
        if np.isnan(value) or spread.size == 0:
            continue
        centre = float(np.mean(spread))
        low, high = np.percentile(spread, [2.5, 97.5])
        out[key] = Estimate(
            float(value),
            float(value + (low - centre) * scale),
            float(value + (high - centre) * scale),
        )
    return out
