"""Estimators named by import path, and Pipelines declared step by step in TOML."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from modelyard.errors import ConfigError
from modelyard.training.spec import Step, TrainingSpec


def resolve_class(path: str) -> type[Any]:
    """Import ``module.Class``; a ``ConfigError`` says what is missing."""
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ConfigError(f"estimator {path!r} must be an import path like sklearn.svm.SVR")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"estimator import path {path!r} does not exist: {exc}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(
            f"estimator import path {path!r} does not exist: module {module_name} has no class "
            f"{attr}"
        )
    return cls


def instantiate(path: str, params: Mapping[str, Any]) -> Any:
    """An instance of ``path`` built with ``params``; bad params name the class."""
    cls = resolve_class(path)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"cannot build {path} with params {dict(params)}: {exc}") from None


def build_estimator(spec: TrainingSpec, params: Mapping[str, Any]) -> Any:
    """The estimator (or Pipeline) a spec declares, with ``params`` for the final step.

    Steps with ``columns`` form one ColumnTransformer at the head of the pipeline;
    steps without run in order after it; the estimator comes last.
    """
    assert spec.estimator is not None
    final = instantiate(spec.estimator, params)
    if not spec.steps:
        return final
    by_columns = [s for s in spec.steps if s.columns]
    sequential = [s for s in spec.steps if not s.columns]
    pipeline: list[tuple[str, Any]] = []
    if by_columns:
        transformers = [(s.name, _build(s), list(s.columns or ())) for s in by_columns]
        pipeline.append(("columns", ColumnTransformer(transformers, remainder=spec.remainder)))
    pipeline.extend((s.name, _build(s)) for s in sequential)
    pipeline.append(("model", final))
    return Pipeline(pipeline)


def _build(step: Step) -> Any:
    return instantiate(step.estimator, step.params)
