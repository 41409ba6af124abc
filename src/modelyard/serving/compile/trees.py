"""XGBoost's scikit-learn models: the trees run by ONNX Runtime, or by XGBoost's own predictor.

Both read the float64 matrix the pipeline built and see it in float32, as XGBoost
does: ONNX Runtime after numpy's ``astype(float32)`` (the same round-to-nearest
cast XGBoost makes internally), the in-place predictor on the float64 matrix itself.
Each runs on one thread. ONNX Runtime answers a few rows several times faster than
XGBoost (7 µs against 185 µs for one row), XGBoost's predictor a large matrix two to three
times faster (from about 250 rows): the ONNX way hands matrices of ``BULK_ROWS`` rows or
more to XGBoost's own predictor, which is exact. Their raw output (the positive-class
probability, the class probabilities or the regression value) then goes through the same
few lines as ``XGBClassifier.predict_proba`` / ``predict``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import xgboost as xgb

from modelyard.serving.compile.base import Array, Kernel, NeedsOriginal, Unsupported

ONNX = "numpy+onnxruntime"
INPLACE = "numpy+xgboost-inplace"
_CLASSIFIER_OBJECTIVES = ("binary:logistic", "multi:softprob")
# ONNX Runtime's probabilities are within ~1e-7 of XGBoost's, not equal: a label decided
# by less than this margin is left to the original, so labels never flip.
ONNX_LABEL_MARGIN = 1e-5

# From this many rows, XGBoost's own predictor is faster than ONNX Runtime's trees.
BULK_ROWS = 256

Builder = Callable[[], Kernel]


def candidates(estimator: Any, method: str, sparse: bool) -> list[tuple[str, Builder]]:
    """The ways to run ``estimator.<method>``, fastest first; each builder may raise Unsupported."""
    if not isinstance(estimator, xgb.XGBClassifier | xgb.XGBRegressor):
        raise Unsupported(f"final estimator {type(estimator).__name__} is not compiled")
    if sparse:
        # XGBoost reads absent entries of a sparse matrix as missing, not as zeros.
        raise Unsupported("the trees are fed a sparse matrix; only dense input is compiled")
    if estimator.booster == "gblinear":
        raise Unsupported("XGBoost's gblinear booster is not compiled")
    objective = estimator.objective
    if not isinstance(objective, str):
        raise Unsupported("an XGBoost model with a custom objective is not compiled")
    booster = estimator.get_booster()
    if booster.feature_types and "c" in booster.feature_types:
        raise Unsupported("XGBoost categorical features are not compiled")
    try:
        end = int(estimator.best_iteration) + 1
    except AttributeError:  # no early stopping: every tree counts
        end = 0
    exact = _post(estimator, method, objective, margin=0.0)
    close = _post(estimator, method, objective, margin=ONNX_LABEL_MARGIN)
    return [
        (
            ONNX,
            lambda: _sized(
                _onnx(estimator, booster, end, objective, close),
                _inplace(estimator, booster, end, exact),
            ),
        ),
        (INPLACE, lambda: _inplace(estimator, booster, end, exact)),
    ]


def _post(estimator: Any, method: str, objective: str, margin: float) -> Callable[[Array], Array]:
    if isinstance(estimator, xgb.XGBClassifier):
        if objective not in _CLASSIFIER_OBJECTIVES:
            raise Unsupported(f"XGBClassifier(objective={objective!r}) is not compiled")
        n_classes = int(estimator.n_classes_)
        return _proba(n_classes) if method == "predict_proba" else _labels(n_classes, margin)
    if method != "predict":
        raise Unsupported(f"XGBRegressor.{method} is not compiled")
    return lambda raw: raw


def _proba(n_classes: int) -> Callable[[Array], Array]:
    # XGBClassifier.predict_proba on binary:logistic or multi:softprob output.
    def proba(raw: Array) -> Array:
        if raw.ndim == 2 and raw.shape[1] == n_classes:
            return raw
        if raw.ndim == 2 and n_classes == 2 and raw.shape[1] >= n_classes:
            return raw
        if raw.ndim != 1:
            return np.vstack((1.0 - raw, raw)).transpose()
        out = np.empty((raw.shape[0], 2), dtype=raw.dtype)  # [1 - p, p]: one call fewer
        out[:, 0] = 1.0 - raw  # than vstack's, and C-ordered
        out[:, 1] = raw
        return out

    return proba


def _labels(n_classes: int, margin: float) -> Callable[[Array], Array]:
    # XGBClassifier.predict on the same output, refusing labels decided by <= margin.
    def labels(raw: Array) -> Array:
        if raw.ndim > 1 and n_classes != 2:
            if margin and raw.shape[1] > 1:
                top = np.sort(raw, axis=1)[:, -2:]
                if np.any(top[:, 1] - top[:, 0] <= margin):
                    raise NeedsOriginal("two classes within the label margin")
            return np.asarray(np.argmax(raw, axis=1))
        if margin and np.any(np.abs(raw - 0.5) <= margin):
            raise NeedsOriginal("a probability within the label margin of 0.5")
        if raw.ndim > 1 and raw.shape[1] != 1:
            out = np.zeros(raw.shape)
            out[raw > 0.5] = 1
            return out
        indexes = np.repeat(0, raw.shape[0])
        indexes[raw > 0.5] = 1
        return indexes

    return labels


def _single_threaded(booster: xgb.Booster) -> xgb.Booster:
    copy = booster.copy()  # never touch the original's settings
    copy.set_param({"nthread": 1})
    return copy


def _inplace(estimator: Any, booster: xgb.Booster, end: int, post: Any) -> Kernel:
    predictor = _single_threaded(booster)
    missing = estimator.missing

    def run(matrix: Array) -> Array:
        raw = predictor.inplace_predict(
            matrix,
            iteration_range=(0, end),
            predict_type="value",
            missing=missing,
            validate_features=False,
        )
        out: Array = post(raw)
        return out

    return run


def _sized(few: Kernel, bulk: Kernel) -> Kernel:
    """``few`` for a matrix of fewer than BULK_ROWS rows, ``bulk`` from BULK_ROWS on."""

    def run(matrix: Array) -> Array:
        return bulk(matrix) if matrix.shape[0] >= BULK_ROWS else few(matrix)

    return run


def _onnx(estimator: Any, booster: xgb.Booster, end: int, objective: str, post: Any) -> Kernel:
    missing = estimator.missing
    if not (isinstance(missing, float) and math.isnan(missing)):
        raise Unsupported(f"missing={missing!r}: ONNX trees only know NaN as missing")
    try:
        from modelyard.serving.compile import onnx_trees  # onnxruntime only when needed
    except ImportError as exc:
        raise Unsupported(f"ONNX conversion unavailable ({exc.name} is not installed)") from None
    trees = booster[0:end] if end else booster.copy()
    trees.feature_names = None  # the converter wants f0, f1, …
    trees.feature_types = None
    if objective == "binary:logistic":
        kind = "binary"
    elif objective == "multi:softprob":
        kind = "multiclass"
    else:
        kind = "regression"
    raw: Kernel = onnx_trees.session(trees, booster.num_features(), kind)

    def run(matrix: Array) -> Array:
        out: Array = post(raw(matrix))
        return out

    return run
