"""Hyper-parameter search: every trial a fit and an evaluation on the executor, at once.

A training with ``[trainings.NAME.search]`` (see ``training.search_space``) runs its
candidate parameter sets as trials: Ray tasks with ``[executor] kind = "ray"``, local
processes otherwise. Each trial fits on the run's own split (or folds) and scores the
same metrics the run reports, so the best trial's metric is what the run then measures
for the model it registers: the runner fits that model with the best trial's parameters
and takes it through the gate. Every trial, failed ones included, is recorded in the run.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.base import is_classifier

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.jobs.executors.base import Executor
from modelyard.monitoring.metrics import get_metric
from modelyard.training.estimators import build_estimator
from modelyard.training.evaluation import Split, cross_validate
from modelyard.training.fitting import fit_model
from modelyard.training.journal import Journal
from modelyard.training.metrics import metric_names, score
from modelyard.training.spec import TrainingSpec


@dataclass(frozen=True)
class TrialData:
    """What every trial needs, sent to each worker once: the data and how it is judged."""

    spec: TrainingSpec
    base: Mapping[str, Any]  # the run's parameters; a trial's own override them
    x: pd.DataFrame
    y: pd.Series[Any]
    split: Split | None  # None: cross-validation on x, y
    classification: bool  # False: as the fitted model says
    metric: str


@dataclass(frozen=True)
class Trial:
    """One trial: its searched parameters, the metrics it scored (or its error), where."""

    number: int
    params: Mapping[str, Any]
    metrics: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    worker: str = ""

    def value(self, metric: str) -> float | None:
        """The trial's ``metric``, None if it failed or the metric is undefined (NaN)."""
        found = self.metrics.get(metric)
        return None if self.error or found is None or math.isnan(found) else found

    def to_dict(self, best: bool = False) -> dict[str, Any]:
        """The JSON form a run records."""
        return {
            "number": self.number,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "worker": self.worker,
            "best": best,
        }


def run_trial(candidate: tuple[int, dict[str, Any]], data: TrialData) -> Trial:
    """Fit and score one parameter set (runs where the executor runs work). A fit that
    fails is a failed trial, not a failed search."""
    number, params = candidate
    worker = f"pid {os.getpid()} on {socket.gethostname()}"
    started = time.perf_counter()
    spec, merged = data.spec, {**data.base, **params}
    try:

        def fit(x: pd.DataFrame, y: pd.Series[Any]) -> Any:
            return fit_model(spec, merged, x, y).model

        if data.split is not None:
            model = fit(data.split.x_train, data.split.y_train)
            classification = data.classification or is_classifier(model)
            names = metric_names(spec.metrics, classification, data.metric)
            metrics = score(model, data.split.x_test, data.split.y_test, names)
        else:
            classification = data.classification or (
                spec.estimator is not None and is_classifier(build_estimator(spec, merged))
            )
            names = metric_names(spec.metrics, classification, data.metric)
            evaluation = spec.evaluation
            metrics = cross_validate(fit, data.x, data.y, evaluation, classification, names)
    except ModelyardError as exc:
        return Trial(number, params, {}, time.perf_counter() - started, exc.message, worker)
    except Exception as exc:  # user code or a library: the trial failed, the search goes on
        why = f"{type(exc).__name__}: {exc}"
        return Trial(number, params, {}, time.perf_counter() - started, why, worker)
    return Trial(number, params, metrics, time.perf_counter() - started, None, worker)


def search(
    spec: TrainingSpec,
    explicit: Mapping[str, Any],
    data: TrialData,
    executor: Executor,
    journal: Journal,
) -> dict[str, Any]:
    """Run the trials of ``spec.search`` over the run's parameters (``data.base``), log
    and record each in ``journal``, and return the best one's (merged over ``data.base``).

    Raises ``InvalidInput`` if an ``explicit`` run parameter is also searched, or
    (code ``search_failed``) if no trial scored the metric.
    """
    assert spec.search is not None
    clash = sorted(set(explicit) & {d.name for d in spec.search.space})
    if clash:
        raise InvalidInput(
            f"parameter {', '.join(clash)} is searched by [trainings.{spec.name}.search]: "
            "leave it out of the run's parameters, or out of the search space",
            code="invalid_option",
        )
    candidates = spec.search.candidates()
    journal.begin(
        "search",
        f"{spec.search.method}, {len(candidates)} trials by {data.metric} on {executor.describe()}",
    )
    numbered = list(enumerate(candidates, start=1))

    def heard(index: int, trial: Trial) -> None:
        journal.log(_line(trial, len(candidates), data.metric))

    trials = executor.map(run_trial, numbered, data, on_result=heard)
    best = _best(trials, data.metric)
    journal.trials = [trial.to_dict(best=trial is best) for trial in trials]
    if best is None:
        errors = "; ".join(f"trial {t.number}: {t.error}" for t in trials if t.error)[:2000]
        raise InvalidInput(
            f"no trial of {spec.name}'s search scored {data.metric}"
            + (f": {errors}" if errors else " (it is undefined for every trial)"),
            code="search_failed",
        )
    value = best.value(data.metric)
    journal.log(f"best: trial {best.number} {_params(best.params)}: {data.metric}={value:.6g}")
    return {**data.base, **best.params}


def _best(trials: list[Trial], metric: str) -> Trial | None:
    higher = get_metric(metric).higher_is_better
    scored = [t for t in trials if t.value(metric) is not None]
    if not scored:
        return None
    sign = 1.0 if higher else -1.0
    return max(scored, key=lambda t: (sign * (t.value(metric) or 0.0), -t.number))


def _line(trial: Trial, total: int, metric: str) -> str:
    head = f"trial {trial.number}/{total} {_params(trial.params)}"
    if trial.error:
        return f"{head}: failed: {trial.error} ({trial.worker})"
    value = trial.metrics.get(metric, float("nan"))
    return f"{head}: {metric}={value:.6g} in {trial.seconds:.2f} s ({trial.worker})"


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
