"""The reference profile of training data: per-feature histograms or category frequencies.

Stored with each version; drift monitoring compares live inputs against it. Besides the
ten quantile bins (PSI's) a numeric feature keeps its quantile function on a fine grid
(for the Wasserstein distance), its exact values when the training set is small (for the
two-sample KS test, as Evidently runs it up to 1,000 reference rows) and its value counts
when it has few distinct values (handled as categories, as Evidently does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from modelyard.monitoring.cbpe import fit_calibration

BINS = 10
TOP_CATEGORIES = 50
EDGE_SAMPLE = 20_000  # quantile edges from an evenly spaced sample; counts use every row
QUANTILES = 256  # the quantile function is kept at QUANTILES + 1 points
SMALL = 1_000  # up to this many rows, a numeric feature keeps its exact values
FEW_VALUES = 20  # up to this many distinct values, a numeric feature keeps its counts


def value_key(value: Any) -> str:
    """How a numeric value is named among a feature's categories (``3`` and ``3.0`` alike)."""
    return repr(float(value))


def _numeric(series: pd.Series[Any]) -> dict[str, Any]:
    values = series.dropna().to_numpy(dtype="float64")
    out: dict[str, Any] = {
        "kind": "numeric",
        "count": int(series.size),
        "nulls": int(series.isna().sum()),
    }
    if values.size == 0:
        return out
    step = max(1, values.size // EDGE_SAMPLE)
    edges = np.unique(np.quantile(values[::step], np.linspace(0, 1, BINS + 1)))
    edges[0], edges[-1] = min(edges[0], values.min()), max(edges[-1], values.max())
    if edges.size < 2:
        edges = np.array([values[0], values[0]])
    # bin i holds edges[i] <= v < edges[i+1], the last bin also its right edge (numpy's rule)
    index = np.searchsorted(edges, values, side="right") - 1
    counts = np.bincount(
        np.clip(index, 0, max(edges.size - 2, 0)), minlength=max(edges.size - 1, 1)
    )
    distinct, frequencies = np.unique(values, return_counts=True)
    out.update(
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        distinct=int(distinct.size),
        quantiles=[float(q) for q in np.quantile(values, np.linspace(0, 1, QUANTILES + 1))],
    )
    if values.size <= SMALL:
        out["values"] = [float(v) for v in np.sort(values)]
    if distinct.size <= FEW_VALUES:
        out["frequencies"] = {
            value_key(v): int(n) for v, n in zip(distinct, frequencies, strict=True)
        }
    return out


def _categorical(series: pd.Series[Any]) -> dict[str, Any]:
    counts = series.value_counts(dropna=True)
    counts.index = counts.index.map(str)
    top = counts.head(TOP_CATEGORIES)
    return {
        "kind": "categorical",
        "count": int(series.size),
        "nulls": int(series.isna().sum()),
        "distinct": int(counts.size),
        "frequencies": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()) if counts.size > TOP_CATEGORIES else 0,
    }


def is_numeric(series: pd.Series[Any]) -> bool:
    """True for numbers (booleans and strings are categories)."""
    return ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)


def profile_series(series: pd.Series[Any]) -> dict[str, Any]:
    """The profile of one column."""
    return _numeric(series) if is_numeric(series) else _categorical(series)


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready profile: ``{"rows": n, "features": {name: {...}}}``."""
    features = {str(name): profile_series(frame[name]) for name in frame.columns}
    return {"rows": len(frame), "features": features}


def output_profile(
    predictions: Any, truth: Any, classes: Sequence[Any] | None = None
) -> dict[str, Any]:
    """The reference of a version's outputs, from its held-out rows: the profile of its
    prediction (a binary classifier's: the positive class's probability) and, given class
    ``classes`` probabilities, the calibration that CBPE estimates accuracy with."""
    values = np.asarray(predictions)
    if classes is None or values.ndim != 2:
        return {"prediction": profile_series(pd.Series(values.ravel()))}
    if len(classes) == 2:
        prediction = profile_series(pd.Series(values[:, 1]))
    else:
        prediction = profile_series(
            pd.Series(np.asarray(classes, dtype=object)[values.argmax(axis=1)])
        )
    return {
        "prediction": prediction,
        "calibration": fit_calibration(values, np.asarray(truth), list(classes)),
    }
