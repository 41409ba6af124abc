"""Drift per feature, of the predictions, and of the dataset, against a reference profile.

Each feature gets the method the field's conventions pick (``stattests.default_method``,
Evidently's) unless the endpoint's declaration overrides it, and every result names its
method, the statistic compared, the threshold and the rule. PSI is reported for every
feature whatever the method. The dataset drifts when at least ``share`` of its features do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.config.monitoring import DriftSettings, FeatureRule
from modelyard.monitoring import stattests
from modelyard.monitoring.current import Current


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: the method, the statistic it compares with the threshold, the
    verdict, and the PSI."""

    feature: str
    kind: str  # numeric or categorical
    method: str
    statistic: float
    threshold: float
    rule: str  # e.g. "p < 0.05", ">= 0.1"
    drifted: bool
    psi: float
    rows: int  # current values compared (nulls left out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {
            "feature": self.feature,
            "kind": self.kind,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "threshold": self.threshold,
            "rule": self.rule,
            "drifted": self.drifted,
            "psi": _finite(self.psi),
            "rows": self.rows,
        }


@dataclass(frozen=True)
class DriftResult:
    """Drift of every feature, of the prediction (if there is a reference for it), and
    whether the dataset drifted."""

    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    share: float
    dataset_drift: bool

    @property
    def drifted(self) -> list[str]:
        """The features that drifted."""
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "features": [f.to_dict() for f in self.features],
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "share": self.share,
            "drifted": self.drifted,
            "dataset_drift": self.dataset_drift,
        }


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def feature_drift(
    name: str, entry: Mapping[str, Any], values: Any, rule: FeatureRule | None = None
) -> FeatureDrift:
    """The drift of one feature's current ``values`` (Arrow, numpy or pandas) against its
    reference ``entry``."""
    current = Current(entry, values)
    method = (rule.method if rule else None) or stattests.default_method(entry, current)
    threshold = rule.threshold if rule and rule.threshold is not None else None
    outcome = stattests.run(method, entry, current, threshold)
    spread = stattests.psi(entry, current) if current.size else math.nan
    return FeatureDrift(
        feature=name,
        kind=str(entry.get("kind", "numeric")),
        method=outcome.method,
        statistic=outcome.statistic,
        threshold=outcome.threshold,
        rule=outcome.rule,
        drifted=outcome.drifted,
        psi=spread,
        rows=current.size,
    )


def dataset_drift(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    settings: DriftSettings,
    *,
    prediction: tuple[Mapping[str, Any], Any] | None = None,
) -> DriftResult:
    """Drift of each feature of the ``reference`` profile that ``current`` (columns by
    name: a DataFrame, or Arrow or numpy columns) has, and of the prediction given as (its
    reference entry, the current predictions)."""
    features = reference.get("features", {})
    results = tuple(
        feature_drift(name, entry, current[name], settings.features.get(name))
        for name, entry in features.items()
        if name in current
    )
    drifted = sum(r.drifted for r in results)
    predicted = None
    if prediction is not None:
        predicted = feature_drift("prediction", prediction[0], prediction[1])
    return DriftResult(
        features=results,
        prediction=predicted,
        share=settings.share,
        dataset_drift=bool(results) and drifted / len(results) >= settings.share,
    )


def distributions(profile: Mapping[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """Reference and current histograms per feature, on the reference's bins."""
    out: dict[str, Any] = {}
    for name, entry in profile.get("features", {}).items():
        if name not in features:
            continue
        current = Current(entry, features[name])
        if entry.get("kind") == "numeric" and entry.get("edges") and not entry.get("frequencies"):
            edges = np.asarray(entry["edges"], dtype="float64")
            index = np.clip(
                np.searchsorted(edges, current.numbers, side="right") - 1, 0, max(edges.size - 2, 0)
            )
            out[name] = {
                "kind": "numeric",
                "edges": edges.tolist(),
                "reference": [int(c) for c in entry["counts"]],
                "current": [int(c) for c in np.bincount(index, minlength=max(edges.size - 1, 1))],
            }
        else:
            reference = dict(entry.get("frequencies") or {})
            keys = list(reference)[:20]
            out[name] = {
                "kind": "categorical",
                "categories": keys,
                "reference": [int(reference[k]) for k in keys],
                "current": [int(current.counts.get(k, 0)) for k in keys],
            }
    return out
