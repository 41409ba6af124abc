"""Refitting a version from its recorded lineage, and judging whether it reproduces.

A trained version records where it came from (``training.runner``'s lineage): the
training, its source and query, the rows' fingerprint, the code hash (the script's, or
the declaration's) and the package versions, and its parameters. :func:`reproduce`
refuses, showing each difference, when the code or the packages differ from those
recorded (``force`` refits anyway); it reads the rows again with the recorded query,
says whether their fingerprint changed, refits with the recorded parameters and
evaluates as the run did (``training.steps``), and sets each metric beside the recorded
one. Nothing is registered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from modelyard.config.settings import Settings
from modelyard.errors import Conflict, InvalidInput
from modelyard.jobs.executors.base import Executor
from modelyard.registry.records import ModelVersion
from modelyard.training import lineage, steps
from modelyard.training.journal import Journal, OnStage
from modelyard.training.spec import TrainingSpec

TOLERANCE = 1e-9  # deterministic estimators with a fixed seed refit to the same metrics


@dataclass(frozen=True)
class MetricPair:
    """One metric as recorded and as reproduced (None where one side has none)."""

    name: str
    recorded: float | None
    reproduced: float | None

    @property
    def difference(self) -> float | None:
        """reproduced - recorded (None if either is missing)."""
        if self.recorded is None or self.reproduced is None:
            return None
        return self.reproduced - self.recorded

    def within(self, tolerance: float) -> bool:
        """Whether both exist and differ by ``tolerance`` at most (both NaN counts)."""
        if self.recorded is None or self.reproduced is None:
            return False
        if math.isnan(self.recorded) and math.isnan(self.reproduced):
            return True
        return abs(self.reproduced - self.recorded) <= tolerance


@dataclass(frozen=True)
class Reproduction:
    """What a refit of ``ref`` found."""

    ref: str
    training: str
    source: str
    rows_recorded: int | None
    rows_now: int
    fingerprint_recorded: str | None
    fingerprint_now: str
    metrics: tuple[MetricPair, ...]
    tolerance: float
    forced: tuple[str, ...] = ()  # code or package differences refitted over by force

    @property
    def data_changed(self) -> bool:
        """Whether the source's rows differ from those the version was trained on."""
        return self.fingerprint_recorded != self.fingerprint_now

    @property
    def reproduced(self) -> bool:
        """Whether every recorded metric came out within the tolerance."""
        return bool(self.metrics) and all(m.within(self.tolerance) for m in self.metrics)

    def summary(self) -> str:
        """One line: reproduced or not, and why not."""
        if self.reproduced:
            return f"{self.ref} reproduced: every metric within {self.tolerance:g}"
        off = [m.name for m in self.metrics if not m.within(self.tolerance)]
        why = " (the source's rows changed since)" if self.data_changed else ""
        return (
            f"{self.ref} not reproduced: {', '.join(off) or 'no metric'} differ by more "
            f"than {self.tolerance:g}{why}"
        )


def differences(spec: TrainingSpec, settings: Settings, version: ModelVersion) -> list[str]:
    """How the code and the packages here differ from those ``version`` records."""
    found: list[str] = []
    recorded_code = version.lineage.get("code_hash")
    now_code = steps.code_of(spec)
    if recorded_code and recorded_code != now_code:
        what = f"script {spec.script.name}" if spec.script else f"[trainings.{spec.name}]"
        found.append(
            f"code: {what} changed (hash {str(recorded_code)[:12]} recorded, {now_code[:12]} now)"
        )
    now = lineage.package_versions()
    for name, was in sorted((version.lineage.get("packages") or {}).items()):
        if now.get(name) != was:
            found.append(f"{name} {was} recorded, {now.get(name, 'not installed')} now")
    return found


def reproduce(
    settings: Settings,
    executor: Executor,
    version: ModelVersion,
    *,
    force: bool = False,
    tolerance: float = TOLERANCE,
    on_stage: OnStage | None = None,
) -> Reproduction:
    """Refit ``version`` from its lineage and compare its metrics with the recorded ones.

    Raises InvalidInput(code="no_lineage") for a version no training made, ConfigError
    if its training is no longer declared, Conflict listing each difference if the code
    or the packages differ from those recorded and ``force`` is False.
    """
    recorded = version.lineage
    name = recorded.get("training")
    if not name or not recorded.get("source"):
        raise InvalidInput(
            f"{version.ref} was registered, not trained: it records no training to refit",
            code="no_lineage",
        )
    if name not in settings.trainings:
        raise InvalidInput(
            f"{version.ref} was trained by [trainings.{name}], which modelyard.toml no longer "
            "declares: restore it to refit the version",
            code="no_lineage",
        )
    declared = TrainingSpec.parse(str(name), settings.trainings[str(name)], settings.root)
    found = differences(declared, settings, version)
    if found and not force:
        raise Conflict(
            f"{version.ref} cannot be refitted as it was trained: {'; '.join(found)} "
            "(--force or force=True refits anyway)",
            differences=found,
        )
    spec = replace(
        declared,
        source=str(recorded["source"]),
        query=recorded.get("query"),
        table=recorded.get("table"),
        query_params=dict(recorded.get("query_params") or {}),
    )
    journal = Journal(on_stage)
    frame = steps.load(spec, settings, journal).frame
    x, y = steps.features_and_target(spec, frame)
    hint = steps.classification_hint(spec)
    held_out = steps.split(spec, x, y, hint)
    params = _parameters(version.params, spec)
    fit = steps.fitter(executor, spec, params, journal)
    evaluated = steps.fit_and_evaluate(spec, fit, x, y, held_out, hint, journal)
    names = [*version.metrics, *(n for n in evaluated.metrics if n not in version.metrics)]
    pairs = tuple(
        MetricPair(n, _number(version.metrics.get(n)), _number(evaluated.metrics.get(n)))
        for n in names
    )
    rows = recorded.get("rows")
    return Reproduction(
        ref=version.ref,
        training=str(name),
        source=spec.source,
        rows_recorded=int(rows) if rows is not None else None,
        rows_now=len(frame),
        fingerprint_recorded=recorded.get("data_fingerprint"),
        fingerprint_now=lineage.fingerprint(frame),
        metrics=pairs,
        tolerance=tolerance,
        forced=tuple(found),
    )


def _parameters(recorded: Mapping[str, Any], spec: TrainingSpec) -> dict[str, Any]:
    """The recorded parameters, with the declared value back where the record could only
    keep its text (a list or a table is recorded as ``str(value)``)."""
    params = dict(recorded)
    for key, value in spec.params.items():
        if not isinstance(value, str) and params.get(key) == str(value):
            params[key] = value
    return params


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
