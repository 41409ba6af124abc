"""The registry side of a run's promotion gate: one call, :func:`decide_and_apply`.

``promotion.decide`` is pure; this module reads what it needs from the registry (the
champion and its value on the run's held-out data), asks it for the ``Decision`` and
applies it: a pending mark, or a compare-and-swap promotion that keeps the champion if it
moved during the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from modelyard.errors import AliasMoved, AliasNotFound
from modelyard.monitoring.metrics import get_metric
from modelyard.promotion import decide
from modelyard.registry.registry import Registry
from modelyard.training.metrics import score
from modelyard.training.spec import TrainingSpec
from modelyard.types import Decision, Outcome


def decide_and_apply(
    registry: Registry,
    spec: TrainingSpec,
    version: int,
    metrics: Mapping[str, float],
    held_out: Any,
    actor: str,
) -> Decision:
    """The gate of a run: decide on ``version`` by ``spec.promotion`` against the current
    champion (scored on the run's held-out data ``held_out`` = (split, x, y, names) for the
    ``best`` policy), apply the decision, and return it as applied (a promotion the
    champion moved under becomes a keep)."""
    split, x, y, names = held_out
    champion, champion_value = current_champion(registry, spec, split, x, y, names)
    metric = spec.promotion.metric
    decision = decide(
        spec.promotion,
        version=version,
        value=metrics.get(metric) if metric else None,
        higher_is_better=get_metric(metric).higher_is_better if metric else True,
        champion=champion,
        champion_value=champion_value,
    )
    return apply_decision(registry, spec, version, decision, champion, actor)


def current_champion(
    registry: Registry,
    spec: TrainingSpec,
    split: Any,
    x: pd.DataFrame,
    y: pd.Series[Any],
    names: Any,
) -> tuple[int | None, float | None]:
    """The champion's version (None if there is none) and, for the ``best`` policy, its
    value of the gate metric on this run's held-out data (None if it cannot score it)."""
    try:
        current = registry.get_version(spec.model)
    except AliasNotFound:
        return None, None
    if spec.promotion.policy.value != "best" or spec.promotion.metric is None:
        return current.version, None
    features, truth = (split.x_test, split.y_test) if split is not None else (x, y)
    try:
        model = registry.loader.load(current)
        value = score(model, features, truth, (spec.promotion.metric,)).get(spec.promotion.metric)
    except Exception:  # a champion that cannot score this data is beaten by any passing one
        return current.version, None
    return current.version, value


def apply_decision(
    registry: Registry,
    spec: TrainingSpec,
    version: int,
    decision: Decision,
    champion: int | None,
    actor: str,
) -> Decision:
    """Apply ``decision`` to ``version``: mark it pending, or promote it if the champion is
    still ``champion``; a champion that moved meanwhile turns a promotion into a keep."""
    if decision.outcome is Outcome.PENDING:
        registry.mark_pending(spec.model, version)
    elif decision.outcome is Outcome.PROMOTE:
        try:
            registry.promote(
                spec.model,
                version,
                actor=actor,
                reason=decision.reason,
                expected=champion,
                details=decision.to_dict(),
            )
        except AliasMoved:
            return Decision(
                Outcome.KEEP,
                f"{decision.reason}; but the champion moved during the run: not promoted",
                decision.metric,
                decision.value,
                decision.threshold,
                decision.champion_value,
                decision.policy,
            )
    return decision
