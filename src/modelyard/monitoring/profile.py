"""The reference profile of training data: per-feature histograms or category frequencies.

Stored with each version; drift monitoring compares live inputs against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

BINS = 10
TOP_CATEGORIES = 50


def _numeric(series: pd.Series[Any]) -> dict[str, Any]:
    values = series.dropna().to_numpy(dtype="float64")
    out: dict[str, Any] = {
        "kind": "numeric",
        "count": int(series.size),
        "nulls": int(series.isna().sum()),
    }
    if values.size == 0:
        return out
    edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)))
    if edges.size < 2:
        edges = np.array([values[0], values[0]])
    counts, _ = np.histogram(values, bins=edges)
    out.update(
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
    )
    return out


def _categorical(series: pd.Series[Any]) -> dict[str, Any]:
    counts = series.astype("object").dropna().astype(str).value_counts()
    top = counts.head(TOP_CATEGORIES)
    return {
        "kind": "categorical",
        "count": int(series.size),
        "nulls": int(series.isna().sum()),
        "distinct": int(counts.size),
        "frequencies": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()) if counts.size > TOP_CATEGORIES else 0,
    }


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready profile: ``{"rows": n, "features": {name: {...}}}``."""
    features: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        numeric = ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)
        features[str(name)] = _numeric(series) if numeric else _categorical(series)
    return {"rows": len(frame), "features": features}
