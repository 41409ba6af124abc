"""Running a training: load, fit, evaluate, register, gate; every run recorded.

A run that fails at any stage is recorded as failed with its error and logs; it
registers nothing it did not finish and never promotes, so the champion keeps serving.
Stage timings and logs are kept by ``training.journal``; the gate's registry side
(the champion, applying the decision) is ``training.gate``.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, InvalidInput, ModelyardError, RunCancelled
from modelyard.jobs.executors.base import Executor
from modelyard.jobs.executors.local import LocalExecutor
from modelyard.monitoring.metrics import get_metric
from modelyard.monitoring.profile import output_profile, profile_frame
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry, VersionInfo
from modelyard.registry.signature import infer_signature
from modelyard.storage.runs import Run, RunStore
from modelyard.training import lineage, steps
from modelyard.training.evaluation import Split
from modelyard.training.gate import decide_and_apply
from modelyard.training.journal import Journal, OnStage
from modelyard.training.reproduce import TOLERANCE, Reproduction, reproduce
from modelyard.training.search import TrialData, search
from modelyard.training.spec import TrainingSpec
from modelyard.types import Decision, OutputKind


class TrainingRunner:
    """Runs the trainings declared in the workspace settings.

    Each fit runs on ``executor`` (default: in this process); loading, evaluation,
    registration, the gate and the run's records always happen here, so a run records
    the same whichever executor fitted it.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        runs: RunStore,
        executor: Executor | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._runs = runs
        self.executor: Executor = executor or LocalExecutor()

    def who(self, actor: str | None) -> str:
        """Who a run records: see :meth:`Registry.who`."""
        return self._registry.who(actor)

    def names(self) -> list[str]:
        """The declared trainings."""
        return sorted(self._settings.trainings)

    def spec(self, name: str) -> TrainingSpec:
        """The parsed declaration of training ``name``."""
        if name not in self._settings.trainings:
            known = ", ".join(self.names()) or "none yet"
            raise ConfigError(
                f"no training named {name!r} in modelyard.toml (declared: {known}); "
                f"add a [trainings.{name}] table"
            )
        return TrainingSpec.parse(name, self._settings.trainings[name], self._settings.root)

    def reproduce(
        self,
        version: ModelVersion,
        *,
        force: bool = False,
        tolerance: float = TOLERANCE,
        on_stage: OnStage | None = None,
    ) -> Reproduction:
        """Refit ``version`` from its recorded lineage on this runner's executor and set
        its metrics beside the recorded ones; see :func:`training.reproduce.reproduce`."""
        return reproduce(
            self._settings,
            self.executor,
            version,
            force=force,
            tolerance=tolerance,
            on_stage=on_stage,
        )

    def run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        trigger: str = "manual",
        actor: str | None = None,
        on_stage: OnStage | None = None,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> Run:
        """Run training ``name`` to its end and return the recorded run (succeeded or failed).

        ``run_id`` names a run already queued (a job's); it is created if missing, with
        ``reason`` (why it was started).
        """
        if name not in self._settings.trainings:
            self.spec(name)  # raises the helpful ConfigError
        try:
            spec: TrainingSpec | None = self.spec(name)
            invalid: ConfigError | None = None
        except ConfigError as exc:  # a declaration that does not parse is a failed run
            spec, invalid = None, exc
        who = self._registry.who(actor)
        run = self._runs.create(
            name,
            spec.model if spec is not None else name,
            trigger=trigger,
            actor=who,
            params=dict(params or {}),
            run_id=run_id,
            reason=reason,
        )
        journal = Journal(on_stage, save=self._saver(run.id))
        self._runs.start(run.id)
        metrics: dict[str, float] = {}
        try:
            if spec is None:
                assert invalid is not None
                raise invalid
            version, decision = self._execute(spec, dict(params or {}), journal, metrics, who)
        except RunCancelled as exc:
            journal.end("cancelled")
            journal.log(f"cancelled: {exc.message}")
            self._runs.stages(run.id, journal.stages, journal.rows, journal.trials)
            self._runs.cancel(run.id, logs=journal.text())
        except ModelyardError as exc:
            self._fail(run.id, journal, metrics, f"{exc.code}: {exc.message}", exc.details)
        except Exception as exc:  # a bug in user code or a library: recorded, never promoted
            journal.log(traceback.format_exc())
            self._fail(run.id, journal, metrics, f"{type(exc).__name__}: {exc}", {})
        else:
            journal.end()
            self._runs.stages(run.id, journal.stages, journal.rows, journal.trials)
            self._runs.succeed(
                run.id, metrics=metrics, version=version, decision=decision, logs=journal.text()
            )
        if on_stage is not None:
            on_stage("done", "")
        return self._runs.get(run.id)

    def _saver(self, run_id: str) -> Callable[[Journal], None]:
        def save(journal: Journal) -> None:
            self._runs.progress(run_id, journal.stages, journal.rows, journal.text())

        return save

    def _fail(
        self,
        run_id: str,
        journal: Journal,
        metrics: dict[str, float],
        error: str,
        details: Mapping[str, Any],
    ) -> None:
        stage = journal._current or "start"
        journal.end("failed")
        for key in ("logs", "traceback"):
            if details.get(key):
                journal.log(str(details[key]))
        journal.log(f"failed at {stage}: {error}")
        self._runs.stages(run_id, journal.stages, journal.rows, journal.trials)
        self._runs.fail(run_id, error=error, logs=journal.text(), metrics=metrics)

    def _execute(
        self,
        spec: TrainingSpec,
        params: dict[str, Any],
        journal: Journal,
        metrics: dict[str, float],
        actor: str,
    ) -> tuple[int, Decision]:
        """A run's four steps: load, fit and evaluate, register, gate."""
        loaded = steps.load(spec, self._settings, journal)
        fitted = self._fit_and_evaluate(spec, params, loaded.frame, journal)
        metrics.update(fitted.metrics)
        version = self._register(spec, fitted, loaded, actor, journal)
        journal.begin("gate", spec.promotion.policy.value)
        held_out = (fitted.split, fitted.x, fitted.y, fitted.names)
        decision = decide_and_apply(
            self._registry, spec, version.version, fitted.metrics, held_out, actor
        )
        journal.log(f"decision: {decision.reason}")
        return version.version, decision

    def _fit_and_evaluate(
        self, spec: TrainingSpec, params: dict[str, Any], frame: pd.DataFrame, journal: Journal
    ) -> _Fitted:
        """(Search,) fit and evaluate on the held-out split; refuses a gate metric that
        cannot be computed (nothing could be promoted on it)."""
        x, y = steps.features_and_target(spec, frame)
        merged = {**spec.params, **params}
        classification_hint = steps.classification_hint(spec)
        split = steps.split(spec, x, y, classification_hint)
        if spec.search is not None:  # the trials pick the parameters fitted below
            metric = spec.search.metric or spec.promotion.metric or ""
            hint = classification_hint or get_metric(metric).task == "classification"
            data = TrialData(spec, merged, x, y, split, hint, metric)
            merged = search(spec, params, data, self.executor, journal)
        if self.executor.kind != "local":
            journal.log(f"fit runs on {self.executor.describe()}")
        fit = steps.fitter(self.executor, spec, merged, journal)
        evaluated = steps.fit_and_evaluate(spec, fit, x, y, split, classification_hint, journal)
        gate_metric = spec.promotion.metric
        if gate_metric is not None:
            value = evaluated.metrics.get(gate_metric)
            if value is None or np.isnan(value):
                raise InvalidInput(
                    f"metric {gate_metric} is {'not computable' if value is None else 'NaN'} for "
                    f"this model on the held-out data: nothing can be promoted on it",
                    code="metric_nan",
                )
        return _Fitted(
            evaluated.model,
            evaluated.classification,
            evaluated.names,
            dict(evaluated.metrics),
            merged,
            x,
            y,
            split,
        )

    def _register(
        self,
        spec: TrainingSpec,
        fitted: _Fitted,
        loaded: steps.Loaded,
        actor: str,
        journal: Journal,
    ) -> ModelVersion:
        """Register the fitted model with its signature, metrics, lineage and profile."""
        journal.begin("register", spec.model)
        model = fitted.model
        output_kind = (
            (OutputKind.PROBABILITIES if hasattr(model, "predict_proba") else OutputKind.CLASS)
            if fitted.classification
            else OutputKind.REGRESSION
        )
        profile = profile_frame(fitted.x)
        if fitted.split is not None:  # monitoring's reference of the outputs, CBPE's calibration
            profile["outputs"] = _output_profile(model, fitted.split, output_kind)
        info = VersionInfo(
            signature=infer_signature(fitted.x, output_kind),
            metrics=fitted.metrics,
            params=_jsonable(fitted.params),
            lineage=self._lineage(spec, loaded.frame, loaded.where),
            profile=profile,
            description=spec.description,
        )
        version = self._registry.register_object(spec.model, model, info, actor=actor)
        journal.log(f"registered {version.ref} (sha256 {version.sha256[:12]})")
        return version

    def _lineage(self, spec: TrainingSpec, frame: pd.DataFrame, where: str) -> dict[str, Any]:
        return {
            "training": spec.name,
            "source": spec.source,
            "source_url": where,
            "query": spec.query,
            "table": spec.table,
            "query_params": _jsonable(spec.query_params),
            "rows": len(frame),
            "data_fingerprint": lineage.fingerprint(frame),
            "code_hash": steps.code_of(spec),
            "script": spec.script.name if spec.script else None,
            "packages": lineage.package_versions(),
        }


def _output_profile(model: Any, split: Split, kind: OutputKind) -> dict[str, Any]:
    """The held-out outputs' profile (and calibration, for probabilities)."""
    if kind is OutputKind.PROBABILITIES:
        proba = np.asarray(model.predict_proba(split.x_test))
        return output_profile(proba, split.y_test.to_numpy(), list(model.classes_))
    return output_profile(np.asarray(model.predict(split.x_test)), split.y_test.to_numpy())


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
    return out


@dataclass(frozen=True)
class _Fitted:
    """What fit-and-evaluate hands to register and the gate."""

    model: Any
    classification: bool
    names: tuple[str, ...]
    metrics: dict[str, float]
    params: dict[str, Any]
    x: pd.DataFrame
    y: pd.Series[Any]
    split: Split | None
