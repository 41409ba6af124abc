"""A training as declared in ``modelyard.toml`` under ``[trainings.NAME]``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.errors import ConfigError
from modelyard.monitoring.metrics import get_metric
from modelyard.promotion import PromotionRule
from modelyard.training.search_space import SearchSpec
from modelyard.types import PolicyName, check_name

_KNOWN = {
    "model",
    "source",
    "query",
    "table",
    "query_params",
    "target",
    "features",
    "estimator",
    "params",
    "steps",
    "remainder",
    "script",
    "evaluation",
    "metrics",
    "promotion",
    "schedule",
    "task",
    "description",
    "search",
}


@dataclass(frozen=True)
class Step:
    """One Pipeline step: an import path, its params, and (optionally) the columns it takes."""

    name: str
    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Evaluation:
    """Holdout share or number of folds, with a seed."""

    holdout: float | None = 0.2
    cv: int | None = None
    seed: int = 42
    stratify: bool | None = None


@dataclass(frozen=True)
class TrainingSpec:
    """Where the data comes from, what is fitted, how it is judged and promoted."""

    name: str
    model: str
    source: str
    target: str
    query: str | None = None
    table: str | None = None
    query_params: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] | None = None
    estimator: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    remainder: str = "passthrough"
    script: Path | None = None
    evaluation: Evaluation = field(default_factory=Evaluation)
    metrics: tuple[str, ...] | None = None
    promotion: PromotionRule = field(
        default_factory=lambda: PromotionRule(policy=PolicyName.MANUAL)
    )
    schedule: str | None = None
    task: str | None = None
    description: str = ""
    search: SearchSpec | None = None
    # sha256 of the declaration as written: the code a version records when no script is
    # used (so the runner, the lineage and reproduce never reread the settings)
    declaration_hash: str = ""

    @classmethod
    def parse(cls, name: str, data: Mapping[str, Any], root: Path) -> TrainingSpec:
        """Validate ``[trainings.NAME]``; every problem is a ``ConfigError`` saying what to fix."""
        where = f"[trainings.{name}]"
        unknown = sorted(set(data) - _KNOWN)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}")
        for key in ("source", "target"):
            if not data.get(key):
                raise ConfigError(f'{where} needs {key} = "…"')
        if bool(data.get("query")) == bool(data.get("table")):
            raise ConfigError(f'{where} needs either query = "SELECT …" or table = "…"')
        kinds = [k for k in ("estimator", "script") if data.get(k)]
        if len(kinds) != 1:
            raise ConfigError(
                f'{where} needs either estimator = "sklearn.linear_model.LinearRegression" '
                'or script = "train.py"'
            )
        if data.get("steps") and not data.get("estimator"):
            raise ConfigError(f"{where}: steps need a final estimator")
        metrics = data.get("metrics")
        if metrics is not None:
            if not isinstance(metrics, list):
                raise ConfigError(f"{where}.metrics must be a list of metric names")
            for metric in metrics:
                get_metric(str(metric))
        promotion = PromotionRule.from_mapping(
            data.get("promotion", {"policy": "manual"}), f"{where}.promotion"
        )
        if promotion.metric is not None:
            get_metric(promotion.metric)
        task = data.get("task")
        if task not in (None, "regression", "classification"):
            raise ConfigError(f"{where}.task must be regression or classification")
        script = data.get("script")
        features = data.get("features")
        return cls(
            name=name,
            model=check_name(str(data.get("model", name))),
            source=str(data["source"]),
            target=str(data["target"]),
            query=data.get("query"),
            table=data.get("table"),
            query_params=dict(data.get("query_params", {})),
            features=tuple(features) if features else None,
            estimator=data.get("estimator"),
            params=dict(data.get("params", {})),
            steps=tuple(_step(s, f"{where}.steps") for s in data.get("steps", [])),
            remainder=str(data.get("remainder", "passthrough")),
            script=(root / script) if script else None,
            evaluation=_evaluation(data.get("evaluation", {}), f"{where}.evaluation"),
            metrics=tuple(str(m) for m in metrics) if metrics else None,
            promotion=promotion,
            schedule=data.get("schedule"),
            task=task,
            description=str(data.get("description", "")),
            search=_search(data.get("search"), f"{where}.search", promotion),
            declaration_hash=declaration_hash(data),
        )


def declaration_hash(declaration: Mapping[str, Any]) -> str:
    """sha256 of a training's declaration (stands in for code when no script is used)."""
    text = json.dumps(dict(declaration), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _step(data: Any, where: str) -> Step:
    if not isinstance(data, Mapping) or not data.get("estimator"):
        raise ConfigError(f'{where}: each step needs estimator = "module.Class"')
    columns = data.get("columns")
    return Step(
        name=str(data.get("name") or str(data["estimator"]).rsplit(".", 1)[-1].lower()),
        estimator=str(data["estimator"]),
        params=dict(data.get("params", {})),
        columns=tuple(columns) if columns else None,
    )


def _search(data: Any, where: str, promotion: PromotionRule) -> SearchSpec | None:
    if data is None:
        return None
    search = SearchSpec.parse(data, where)
    metric = search.metric or promotion.metric
    if metric is None:
        raise ConfigError(f'{where} needs metric = "…" (the promotion has none to pick trials by)')
    get_metric(metric)
    return search


def _evaluation(data: Mapping[str, Any], where: str) -> Evaluation:
    holdout, cv = data.get("holdout"), data.get("cv")
    if holdout is not None and cv is not None:
        raise ConfigError(f"{where}: give holdout or cv, not both")
    if cv is not None and (not isinstance(cv, int) or cv < 2):
        raise ConfigError(f"{where}.cv must be an integer >= 2")
    if holdout is not None and not 0 < float(holdout) < 1:
        raise ConfigError(f"{where}.holdout must be between 0 and 1, e.g. 0.2")
    return Evaluation(
        holdout=None if cv is not None else float(holdout if holdout is not None else 0.2),
        cv=cv,
        seed=int(data.get("seed", 42)),
        stratify=data.get("stratify"),
    )
