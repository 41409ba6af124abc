"""An endpoint's monitoring report over a span of time: drift, performance, service.

The span (default: the endpoint's declared window, trailing now) is summarised as a whole
(the drift table, the metrics) and as a timeline of ``BUCKETS`` equal parts (drift,
metrics, latency and error rate over time). The reference is the training profile of the
version that scored most of the span's rows (an entry script's: its declared
``reference``). The report holds aggregates only (statistics, histograms), never rows:
its size does not grow with the rows collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from modelyard.config.monitoring import EndpointMonitoring
from modelyard.errors import ModelyardError
from modelyard.monitoring import cbpe, performance
from modelyard.monitoring.drift import DriftResult, dataset_drift, distributions
from modelyard.monitoring.frames import json_frame
from modelyard.monitoring.performance import PROBA, proba_columns
from modelyard.monitoring.rows import Rows, between
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.storage.collection import CollectionStore
from modelyard.storage.endpoints import EndpointRecord
from modelyard.storage.schema import utcnow
from modelyard.types import ModelRef

BUCKETS = 24
Array = np.ndarray[Any, Any]
NO_LABELS = "no labels yet: POST them to /api/v1/endpoints/E/feedback or declare a label source"


@dataclass(frozen=True)
class Span:
    """The time a report covers, ``[since, until)``."""

    since: datetime
    until: datetime

    @classmethod
    def trailing(
        cls, window_s: float, since: datetime | None = None, until: datetime | None = None
    ) -> Span:
        """``[since, until)``; ``until`` defaults to now, ``since`` to a window before it."""
        end = until or utcnow()
        return cls(since or end - timedelta(seconds=window_s), end)

    def buckets(self, count: int = BUCKETS) -> list[tuple[datetime, datetime]]:
        """The span cut into ``count`` equal parts."""
        step = (self.until - self.since) / count
        return [(self.since + step * i, self.since + step * (i + 1)) for i in range(count)]


@dataclass
class Report:
    """What ``modelyard monitor`` shows, the monitoring API answers and policies judge."""

    endpoint: str
    span: Span
    rows: int
    requests: int
    reference: dict[str, Any] | None
    drift: DriftResult | None
    measured: dict[str, float]
    labelled: int
    estimated: dict[str, cbpe.Estimate]
    service: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    distributions: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "endpoint": self.endpoint,
            "since": self.span.since.isoformat(),
            "until": self.span.until.isoformat(),
            "rows": self.rows,
            "requests": self.requests,
            "reference": self.reference,
            "drift": self.drift.to_dict() if self.drift else None,
            "performance": {
                "measured": self.measured,
                "labelled_rows": self.labelled,
                "estimated": {k: v.to_dict() for k, v in self.estimated.items()},
            },
            "service": self.service,
            "timeline": self.timeline,
            "distributions": self.distributions,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Reference:
    """The version compared against, and its stored profile."""

    version: ModelVersion | None
    profile: Mapping[str, Any] | None

    @property
    def number(self) -> int:
        return self.version.version if self.version is not None else -2

    def prediction(self, outputs: Mapping[str, Array]) -> tuple[Mapping[str, Any], Array] | None:
        """(the prediction's reference entry, the current predictions), if both exist."""
        entry = ((self.profile or {}).get("outputs") or {}).get("prediction")
        classes = proba_columns(outputs)
        column = f"{PROBA}{classes[1]}" if len(classes) == 2 else "prediction"
        if entry is None or column not in outputs:
            return None
        return entry, outputs[column]

    def estimated(
        self, outputs: Mapping[str, Array], *, band: bool = True
    ) -> dict[str, cbpe.Estimate]:
        """CBPE's estimated metrics, when the version stored its holdout calibration."""
        calibration = ((self.profile or {}).get("outputs") or {}).get("calibration")
        if calibration is None:
            return {}
        wanted = [f"{PROBA}{performance.class_key(c)}" for c in calibration["classes"]]
        if not all(w in outputs for w in wanted):
            return {}
        proba = np.column_stack([np.asarray(outputs[w], dtype="float64") for w in wanted])
        proba = proba[~np.isnan(proba).any(axis=1)]
        return cbpe.estimate(proba, calibration, band=band)


class Reporter:
    """Builds reports from collected rows, their labels and the registry's profiles."""

    def __init__(self, collection: CollectionStore, registry: Registry) -> None:
        self._collection = collection
        self._registry = registry

    def report(
        self,
        record: EndpointRecord,
        declaration: EndpointMonitoring,
        span: Span,
        *,
        timeline: bool = True,
    ) -> Report:
        """The report of ``record``'s endpoint over ``span``."""
        rows = Rows.read(
            self._collection.blocks(record.name, span.since, span.until), span.since, span.until
        )
        notes: list[str] = []
        reference = self._reference(record, declaration, rows, notes)
        features = rows.features()
        outputs = rows.scored_by(reference.number)
        estimated = reference.estimated(outputs)
        if outputs and proba_columns(outputs) and not estimated and reference.profile is not None:
            notes.append(
                "no holdout calibration stored with this version: accuracy is not estimated"
            )
        labelled = self._collection.labelled(record.name, span.since, span.until)
        label_values = performance.parse_labels(labelled.labels)
        label_outputs = json_frame(labelled.outputs)
        if not label_values:
            notes.append(NO_LABELS)
        report = Report(
            endpoint=record.name,
            span=span,
            rows=int(rows.compared.sum()),
            requests=int(rows.request.sum()),
            reference=_view(reference.version),
            drift=_drift(reference, features, outputs, declaration),
            measured=performance.measured(label_outputs, label_values),
            labelled=len(label_values),
            estimated=estimated,
            service=performance.service(rows.latency[rows.request], rows.status[rows.request]),
            notes=notes,
        )
        if reference.profile is not None:
            report.distributions = distributions(reference.profile, features)
        if timeline:
            for start, end in span.buckets():
                part = rows.where(between(rows.times, start, end))
                point = _point(part, reference, declaration, start, end)
                keep = between(labelled.scored_at, start, end)
                if keep.any():
                    chosen = [v for v, k in zip(label_values, keep, strict=True) if k]
                    point["measured"] = performance.measured(
                        label_outputs[keep].reset_index(drop=True), chosen
                    )
                report.timeline.append(point)
        return report

    def _reference(
        self, record: EndpointRecord, declaration: EndpointMonitoring, rows: Rows, notes: list[str]
    ) -> _Reference:
        try:
            version = self._version(record, declaration, rows, notes)
        except ModelyardError as exc:
            notes.append(f"no reference version: {exc.message}")
            return _Reference(None, None)
        if version is not None and not version.profile:
            notes.append(f"{version.ref} has no training profile: drift cannot be computed")
        return _Reference(version, version.profile if version is not None else None)

    def _version(
        self, record: EndpointRecord, declaration: EndpointMonitoring, rows: Rows, notes: list[str]
    ) -> ModelVersion | None:
        if record.kind == "script":
            if declaration.reference is None:
                notes.append(
                    f'declare reference = "model:version" under [endpoints.{record.name}] '
                    "to compare its collected inputs with a training profile"
                )
                return None
            return self._registry.resolve(ModelRef.parse(declaration.reference))
        numbers, counts = np.unique(
            rows.version[rows.model & (rows.version >= 0)], return_counts=True
        )
        name = ModelRef.parse(record.target).name
        if numbers.size:
            return self._registry.get_version(name, int(numbers[counts.argmax()]))
        return self._registry.resolve(ModelRef.parse(record.target))


def _view(version: ModelVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    profile = version.profile or {}
    return {"model": version.name, "version": version.version, "rows": profile.get("rows")}


def _drift(
    reference: _Reference,
    features: Mapping[str, Any],
    outputs: Mapping[str, Array],
    declaration: EndpointMonitoring,
) -> DriftResult | None:
    if reference.profile is None or not features or not len(next(iter(features.values()))):
        return None
    return dataset_drift(
        reference.profile, features, declaration.drift, prediction=reference.prediction(outputs)
    )


def _point(
    rows: Rows,
    reference: _Reference,
    declaration: EndpointMonitoring,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """One part of the timeline: its rows, service, drift and estimated metrics."""
    served = performance.service(rows.latency[rows.request], rows.status[rows.request])
    point: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "rows": int(rows.compared.sum()),
        "requests": served["requests"],
        "error_rate": served["error_rate"],
        "latency_ms": served["latency_ms"],
    }
    outputs = rows.scored_by(reference.number)
    drift = _drift(reference, rows.features(), outputs, declaration)
    if drift is not None:
        point["drifted"] = drift.drifted
        point["dataset_drift"] = drift.dataset_drift
        point["psi"] = {f.feature: f.to_dict()["psi"] for f in drift.features}
        point["statistic"] = {f.feature: f.to_dict()["statistic"] for f in drift.features}
    point["estimated"] = {k: v.value for k, v in reference.estimated(outputs, band=False).items()}
    return point
