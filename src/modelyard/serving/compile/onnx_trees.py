"""An XGBoost booster converted to ONNX and run by ONNX Runtime on one thread.

Imported only when a model has trees to compile, and only where the ``onnx`` extra
(onnxmltools, onnxruntime) is installed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnxmltools
import onnxruntime as ort
from onnxmltools.convert.common.data_types import FloatTensorType

from modelyard.serving.compile.base import Array, Kernel, Unsupported


def session(booster: Any, n_features: int, kind: str) -> Kernel:
    """A kernel returning what ``booster.inplace_predict(X)`` returns, computed by ONNX Runtime.

    ``kind`` is ``binary`` (the positive-class probability), ``multiclass`` (the class
    probabilities) or ``regression`` (the value).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = onnxmltools.convert_xgboost(
                booster, initial_types=[("input", FloatTensorType([None, n_features]))]
            )
    except Exception as exc:  # the converter's errors are many and untyped
        raise Unsupported(f"onnxmltools cannot convert the booster: {exc}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    runtime = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    name = runtime.get_inputs()[0].name
    outputs = [o.name for o in runtime.get_outputs()]
    wanted = [outputs[-1]]  # probabilities for a classifier, the value for a regressor

    def binary(matrix: Array) -> Array:
        probabilities: Array = runtime.run(wanted, {name: matrix.astype(np.float32)})[0]
        return probabilities[:, 1]

    def multiclass(matrix: Array) -> Array:
        probabilities: Array = runtime.run(wanted, {name: matrix.astype(np.float32)})[0]
        return probabilities

    def regression(matrix: Array) -> Array:
        values: Array = runtime.run(wanted, {name: matrix.astype(np.float32)})[0]
        return values.reshape(-1) if values.ndim == 2 and values.shape[1] == 1 else values

    return {"binary": binary, "multiclass": multiclass}.get(kind, regression)
