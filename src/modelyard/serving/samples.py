"""Plausible request rows drawn from a version's training profile, to check a compiled scorer.

The rows are deterministic (a fixed seed), go through the same coercion as requests,
and lean on the values where tree splits sit: every histogram edge of a numeric
feature (its observed minimum, maximum and quantiles) appears, integer columns hold
integers, categorical columns cycle through the categories seen in training, and
some rows carry an unseen category or a null where the column allows one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelyard.serving.frame import from_columns
from modelyard.types import ColumnSpec, Signature

ROWS = 200
UNSEEN = "\u2400unseen"  # a category no training set holds
_NUMERIC = ("int64", "float64")


def sample_frame(
    signature: Signature,
    profile: Mapping[str, Any] | None,
    rows: int = ROWS,
    *,
    unseen: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """``rows`` rows for ``signature``, drawn from ``profile`` (or plain defaults without one)."""
    rng = np.random.default_rng(seed)
    features = (profile or {}).get("features", {})
    columns = {
        spec.name: _column(spec, features.get(spec.name, {}), rows, rng, unseen)
        for spec in signature.inputs
    }
    return from_columns(columns, signature)


def _column(
    spec: ColumnSpec, stats: Mapping[str, Any], rows: int, rng: np.random.Generator, unseen: bool
) -> list[Any]:
    values: list[Any]
    if spec.dtype in _NUMERIC:
        values = _numbers(stats, rows, rng, integral=spec.dtype == "int64")
    elif spec.dtype == "bool":
        values = [bool(v) for v in rng.integers(0, 2, rows)]
    elif spec.dtype == "datetime":
        values = ["2020-01-01"] * rows
    else:
        values = _categories(spec, stats, rows, rng, unseen)
    if spec.nullable:
        for i in range(3, rows, 17):
            values[i] = None
    return values


def _numbers(
    stats: Mapping[str, Any], rows: int, rng: np.random.Generator, *, integral: bool
) -> list[Any]:
    edges = np.asarray(stats.get("edges") or [stats.get("mean", 1.0)], dtype=np.float64)
    counts = np.asarray(stats.get("counts") or [1], dtype=np.float64)
    if edges.size >= 2 and counts.size == edges.size - 1 and counts.sum() > 0:
        bins = rng.choice(counts.size, size=rows, p=counts / counts.sum())
        drawn = rng.uniform(edges[bins], edges[bins + 1])
    else:  # no histogram: spread around the mean (or 1.0), so the rows still differ
        drawn = edges[0] + rng.normal(0.0, max(1.0, abs(float(edges[0]))), rows)
    # The edges themselves: observed values, where split thresholds tend to sit.
    places = rng.permutation(rows)[: min(edges.size, rows)]
    drawn[places] = edges[: places.size]
    if integral:
        return [int(v) for v in np.round(drawn)]
    return [float(v) for v in drawn]


def _categories(
    spec: ColumnSpec, stats: Mapping[str, Any], rows: int, rng: np.random.Generator, unseen: bool
) -> list[Any]:
    seen = list(stats.get("frequencies") or spec.categories or ["x"])
    values: list[Any] = [seen[i % len(seen)] for i in rng.permutation(rows)]
    if unseen:
        for i in range(5, rows, 23):
            values[i] = UNSEEN
    return values
