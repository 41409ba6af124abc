"""Turn a fitted model into a fast scorer, and keep it only if it matches the original.

Recognised: a bare estimator, or a Pipeline whose first step is a ColumnTransformer of
OneHotEncoder / StandardScaler / passthrough (or one of those over the whole frame),
optionally followed by StandardScalers, ending in an XGBoost classifier or regressor
or in LinearRegression, Ridge or LogisticRegression. Anything else is left to the
original, with the reason.

The candidates for the final estimator are tried fastest first. Each is run on the
sample rows (the version's holdout or warm-up rows) beside the original: whole, in slices
of ``SLICE_ROWS``, one row alone, and repeated up to ``MANY_ROWS`` (a kernel may take
another way for few rows than for many, as requests and batch jobs hand them), and kept
only if its output has the same shape and dtype and differs by at most 1e-6 anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from modelyard.serving.compile import linear
from modelyard.serving.compile.base import (
    TOLERANCE,
    Array,
    Columns,
    Compiled,
    Fallback,
    Kernel,
    NeedsOriginal,
    Stage,
    Unsupported,
)
from modelyard.serving.compile.transforms import Scale, column_stage, matrix_step
from modelyard.types import OutputKind, Signature

# The sample is also scored in slices this small, as a request's rows come ...
SLICE_ROWS = 64
# ... and repeated up to this many rows, as a batch job's chunk comes.
MANY_ROWS = 512


def method_for(model: Any, kind: OutputKind) -> str:
    """The method the scorer calls: ``predict_proba`` for probabilities where it exists."""
    if kind is OutputKind.PROBABILITIES and hasattr(model, "predict_proba"):
        return "predict_proba"
    return "predict"


def compile_model(model: Any, signature: Signature | None, sample: pd.DataFrame) -> Compiled | None:
    """A verified fast scorer for ``model``, or None (``try_compile`` says why)."""
    result = try_compile(model, signature, sample)
    return result if isinstance(result, Compiled) else None


def try_compile(
    model: Any, signature: Signature | None, sample: pd.DataFrame
) -> Compiled | Fallback:
    """A fast scorer matching ``model`` on ``sample`` within 1e-6, or the reason there is none.

    Never raises: a model the compiler cannot handle, or a compiler bug, is a Fallback.
    """
    try:
        return _compile(model, signature, sample)
    except Unsupported as exc:
        return Fallback(str(exc))
    except Exception as exc:  # a compiler failure must never keep a version from serving
        return Fallback(f"compilation failed: {type(exc).__name__}: {exc}")


def _compile(model: Any, signature: Signature | None, sample: pd.DataFrame) -> Compiled:
    if signature is None:
        raise Unsupported("the version has no signature")
    if len(sample) == 0:
        raise Unsupported("no rows to verify a compiled scorer on")
    method = method_for(model, signature.output_kind)
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps]
        first, later, final = (steps[0] if len(steps) > 1 else None), steps[1:-1], steps[-1]
    else:
        first, later, final = None, [], model
    # Whatever reads the frame first checks its column order, except a ColumnTransformer.
    head = first if first is not None else final
    fitted = None if type(head) is ColumnTransformer else getattr(head, "feature_names_in_", None)
    strict = tuple(str(n) for n in fitted) if fitted is not None else None
    stage = column_stage(first, list(strict or signature.names))
    scalers = [s for s in (matrix_step(step) for step in later) if s is not None]
    if scalers and stage.dtype != np.float64:
        raise Unsupported("a StandardScaler after a float32 first step is not compiled")
    run = _chain(stage, scalers)
    ways = _candidates(final, method, stage.sparse)
    expected = np.asarray(getattr(model, method)(sample))
    reasons = []
    for path, build in ways:
        try:
            kernel = build()
            compiled = Compiled(path, method, stage.inputs, 0.0, len(sample), run, kernel, strict)
            difference = _verified(compiled, sample, expected)
        except (Unsupported, NeedsOriginal) as exc:
            reasons.append(f"{path}: {exc}")
            continue
        if difference <= TOLERANCE:
            return replace(compiled, max_diff=difference)
        reasons.append(f"{path}: max diff {difference:.3g} > {TOLERANCE:g} on {len(sample)} rows")
    raise Unsupported("; ".join(reasons))


def _verified(compiled: Compiled, sample: pd.DataFrame, expected: Array) -> float:
    """The largest difference from ``expected`` over the ways rows come: the sample whole,
    in slices, its first row alone, and repeated up to MANY_ROWS."""
    copies = -(-MANY_ROWS // len(sample))
    many = pd.concat([sample] * copies, ignore_index=True)
    return max(
        _difference(expected, np.asarray(compiled(sample))),
        _difference(expected, _in_slices(compiled, sample)),
        _difference(expected[:1], np.asarray(compiled(sample.iloc[:1]))),
        _difference(np.concatenate([expected] * copies), np.asarray(compiled(many))),
    )


def _in_slices(compiled: Compiled, sample: pd.DataFrame) -> Array:
    """``compiled`` run on the sample SLICE_ROWS rows at a time, the outputs joined."""
    parts = [
        np.asarray(compiled(sample.iloc[start : start + SLICE_ROWS]))
        for start in range(0, len(sample), SLICE_ROWS)
    ]
    return np.concatenate(parts, axis=0)


def _chain(stage: Stage, scalers: Sequence[Scale]) -> Stage:
    if not scalers:
        return stage

    def run(columns: Columns, rows: int) -> Array:
        matrix = stage(columns, rows)
        for scaler in scalers:
            matrix = scaler.apply(matrix)
        return matrix

    return run


def _candidates(final: Any, method: str, sparse: bool) -> list[tuple[str, Callable[[], Kernel]]]:
    if type(final).__module__.split(".")[0] == "xgboost":
        # imported here: xgboost is loaded only for an xgboost model (a visible import,
        # which import-linter checks, rather than a dotted string)
        from modelyard.serving.compile import trees

        found: list[tuple[str, Callable[[], Kernel]]] = trees.candidates(final, method, sparse)
        return found
    kernel = linear.kernel(final, method)
    return [(linear.PATH, lambda: kernel)]


def _difference(expected: Array, got: Array) -> float:
    """The largest absolute difference; infinite where a label or a NaN differs."""
    if expected.shape != got.shape:
        raise Unsupported(f"output shape {got.shape}, the original's is {expected.shape}")
    if expected.dtype != got.dtype:
        raise Unsupported(f"output dtype {got.dtype}, the original's is {expected.dtype}")
    if expected.dtype.kind not in "biuf":
        return 0.0 if np.array_equal(expected, got) else float("inf")
    if expected.size == 0:
        return 0.0
    left, right = expected.astype(np.float64), got.astype(np.float64)
    absent = np.isnan(left)
    if not np.array_equal(absent, np.isnan(right)):
        return float("inf")
    return float(np.max(np.abs(left[~absent] - right[~absent]), initial=0.0))
