"""The steps of a training that a run and a reproduction both take: load the rows, pick
the features, split them, fit and evaluate.

A run (``training.runner``) adds the search, registration and the gate around them; a
reproduction (``training.reproduce``) repeats them from a version's recorded lineage,
so both compute metrics the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import is_classifier

from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, InvalidInput
from modelyard.jobs.executors.base import Executor
from modelyard.monitoring.metrics import get_metric
from modelyard.sources.arrow import to_frame
from modelyard.sources.declared import open_source
from modelyard.training.evaluation import Split, cross_validate, holdout
from modelyard.training.fitting import fit_model
from modelyard.training.journal import Journal
from modelyard.training.metrics import metric_names, score
from modelyard.training.scripts import code_hash
from modelyard.training.spec import TrainingSpec

Fit = Callable[[pd.DataFrame, "pd.Series[Any]"], Any]


@dataclass(frozen=True)
class Loaded:
    """The rows a training read, and where from (the source's redacted description)."""

    frame: pd.DataFrame
    where: str


@dataclass(frozen=True)
class Evaluated:
    """A fitted model, its held-out metrics, and how it was judged."""

    model: Any
    metrics: dict[str, float]
    names: tuple[str, ...]
    classification: bool


def load(spec: TrainingSpec, settings: Settings, journal: Journal) -> Loaded:
    """Read the training's rows from its source (stage ``load``); raises ConfigError for
    an undeclared source, InvalidInput(code="empty_result") when no rows come back."""
    journal.begin("load", f"source {spec.source}")
    if spec.source not in settings.sources:
        known = ", ".join(sorted(settings.sources)) or "none"
        raise ConfigError(
            f"training {spec.name}: no source named {spec.source!r} (declared: {known})"
        )
    source = open_source(spec.source, settings.sources[spec.source], settings.root)
    try:
        frame = to_frame(source.read(spec.query, table=spec.table, params=spec.query_params))
        where = source.describe()
    finally:
        source.close()
    journal.rows = len(frame)
    journal.end(f"{len(frame)} rows")
    journal.log(f"loaded {len(frame)} rows x {len(frame.columns)} columns")
    if frame.empty:
        raise InvalidInput(
            f"source {spec.source} returned no rows for {spec.query or spec.table}: "
            "nothing to train on",
            code="empty_result",
        )
    return Loaded(frame, where)


def features_and_target(spec: TrainingSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    """The feature columns and the target; raises InvalidInput(code="missing_column")."""
    columns = [str(c) for c in frame.columns]
    wanted = [spec.target, *(spec.features or ())]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise InvalidInput(
            f"column {', '.join(missing)} not in the data of training {spec.name}; "
            f"the columns are: {', '.join(columns)}",
            code="missing_column",
            column=missing[0],
        )
    features = list(spec.features) if spec.features else [c for c in columns if c != spec.target]
    return frame[features], frame[spec.target]


def classification_hint(spec: TrainingSpec) -> bool:
    """Whether the declaration says classification (its task, or its gate's metric)."""
    return spec.task == "classification" or (
        spec.promotion.metric is not None
        and get_metric(spec.promotion.metric).task == "classification"
    )


def split(spec: TrainingSpec, x: pd.DataFrame, y: Any, hint: bool) -> Split | None:
    """The seeded holdout split, or None when the training cross-validates."""
    return None if spec.evaluation.cv is not None else holdout(x, y, spec.evaluation, hint)


def fitter(executor: Executor, spec: TrainingSpec, params: dict[str, Any], journal: Journal) -> Fit:
    """A function fitting the training's model with ``params`` on ``executor``; what a
    script prints goes to the journal."""

    def fit(x: pd.DataFrame, y: pd.Series[Any]) -> Any:
        fitted = executor.submit(fit_model, spec, params, x, y)
        if fitted.output:
            journal.log(fitted.output.rstrip("\n"))
        return fitted.model

    return fit


def fit_and_evaluate(
    spec: TrainingSpec,
    fit: Fit,
    x: pd.DataFrame,
    y: Any,
    held_out: Split | None,
    hint: bool,
    journal: Journal,
) -> Evaluated:
    """Fit on the training part (stage ``fit``) and score the held-out part, or
    cross-validate (stage ``evaluate``)."""
    journal.begin("fit", f"{len(x)} rows")
    model = fit(held_out.x_train, held_out.y_train) if held_out is not None else fit(x, y)
    classification = is_classifier(model) or hint
    names = metric_names(spec.metrics, classification, spec.promotion.metric)
    journal.begin("evaluate", ", ".join(names))
    if held_out is not None:
        metrics = score(model, held_out.x_test, held_out.y_test, names)
    else:
        metrics = cross_validate(fit, x, y, spec.evaluation, classification, names)
    journal.log("metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in metrics.items()))
    return Evaluated(model, dict(metrics), names, classification)


def code_of(spec: TrainingSpec) -> str:
    """The code hash a version records: its script's, else its declaration's."""
    return code_hash(spec.script) if spec.script else spec.declaration_hash
