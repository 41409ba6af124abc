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
EDGE_SAMPLE = 20_000  # quantile edges from an evenly spaced sample; counts use every row


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


def profile_frame(frame: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready profile: ``{"rows": n, "features": {name: {...}}}``."""
    features: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        numeric = ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)
        features[str(name)] = _numeric(series) if numeric else _categorical(series)
    return {"rows": len(frame), "features": features}
