"""Linear models as one matrix product, written exactly as scikit-learn writes it.

``X @ coef_ + intercept_`` with the same operand shapes sklearn uses (so the same BLAS
call), then the same link: ``scipy.special.expit`` and ``[1 - p, p]`` for a binary
logistic regression, sklearn's own ``softmax`` for a multinomial one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.extmath import softmax

from modelyard.serving.compile.base import Array, Kernel, Unsupported

PATH = "numpy-linear"


def kernel(estimator: Any, method: str) -> Kernel:
    """The kernel standing for ``estimator.<method>`` on the dense float64 matrix."""
    cls = type(estimator)
    if cls is LinearRegression or cls is Ridge:
        if method != "predict":
            raise Unsupported(f"{cls.__name__}.{method} is not compiled")
        return _regression(estimator)
    if cls is LogisticRegression:
        return _logistic(estimator, method)
    raise Unsupported(f"final estimator {cls.__name__} is not compiled")


def _regression(estimator: Any) -> Kernel:
    coef = np.asarray(estimator.coef_)
    operand = coef if coef.ndim == 1 else coef.T
    intercept = estimator.intercept_

    def predict(matrix: Array) -> Array:
        return np.asarray(matrix @ operand + intercept)

    return predict


def _logistic(estimator: Any, method: str) -> Kernel:
    coef = np.asarray(estimator.coef_)
    operand = coef.T if coef.ndim == 2 else coef
    intercept = estimator.intercept_
    classes = estimator.classes_
    binary = classes.size <= 2

    def decision(matrix: Array) -> Array:
        scores: Array = matrix @ operand + intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    def predict_proba(matrix: Array) -> Array:
        scores = decision(matrix)
        if binary:  # one score column, raveled by decision()
            prob = expit(scores, out=scores)
            return np.stack([1 - prob, prob], axis=1)
        return np.asarray(softmax(scores, copy=False))

    def predict(matrix: Array) -> Array:
        scores = decision(matrix)
        binary_scores = scores.ndim == 1
        indices = (scores > 0).astype(np.intp) if binary_scores else np.argmax(scores, axis=1)
        return np.asarray(classes.take(indices, axis=0))

    if method == "predict_proba":
        return predict_proba
    if method == "predict":
        return predict
    raise Unsupported(f"LogisticRegression.{method} is not compiled")
