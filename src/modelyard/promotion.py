"""Promotion policies: pure functions from scores to a :class:`Decision` with its reason.

- ``latest-passing`` (seed 000's rule): promote when the metric passes the threshold.
- ``best``: pass the threshold AND beat the champion, re-scored on the same holdout,
  by at least ``margin``.
- ``manual``: never promote automatically.
``require_approval`` turns a would-be promotion into a pending version; ``four_eyes`` adds
that its approver must be another person than the version's author.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.errors import ConfigError
from modelyard.types import Decision, Outcome, PolicyName


@dataclass(frozen=True)
class PromotionRule:
    """The ``promotion = {…}`` table of a training."""

    metric: str | None = None
    threshold: float | None = None
    policy: PolicyName = PolicyName.LATEST_PASSING
    margin: float = 0.0
    require_approval: bool = False
    four_eyes: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "promotion") -> PromotionRule:
        """Parse ``{metric, min|max, policy, margin, require_approval, four_eyes}``."""
        known = {
            "metric", "min", "max", "threshold", "policy", "margin", "require_approval",
            "four_eyes",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {', '.join(unknown)} (known: {sorted(known)})"
            )
        try:
            policy = PolicyName(data.get("policy", PolicyName.LATEST_PASSING.value))
        except ValueError:
            choices = ", ".join(p.value for p in PolicyName)
            raise ConfigError(f"{where}.policy must be one of {choices}") from None
        bounds = [data[k] for k in ("min", "max", "threshold") if k in data]
        if len(bounds) > 1:
            raise ConfigError(f"{where}: give one of min, max or threshold")
        threshold = float(bounds[0]) if bounds else None
        metric = data.get("metric")
        if policy is not PolicyName.MANUAL and (metric is None or threshold is None):
            raise ConfigError(
                f"{where}: policy {policy.value} needs a metric and a threshold, "
                'e.g. { metric = "r2", min = 0.8 }'
            )
        four_eyes = bool(data.get("four_eyes", False))
        if four_eyes and not data.get("require_approval", False):
            raise ConfigError(f"{where}: four_eyes = true needs require_approval = true")
        return cls(
            four_eyes=four_eyes,
            metric=str(metric) if metric is not None else None,
            threshold=threshold,
            policy=policy,
            margin=float(data.get("margin", 0.0)),
            require_approval=bool(data.get("require_approval", False)),
        )


def passes(value: float, threshold: float, higher_is_better: bool) -> bool:
    """True if ``value`` is on the good side of ``threshold`` (inclusive)."""
    return value >= threshold if higher_is_better else value <= threshold


def decide(
    rule: PromotionRule,
    *,
    version: int,
    value: float | None,
    higher_is_better: bool,
    champion: int | None = None,
    champion_value: float | None = None,
) -> Decision:
    """Decide what happens to ``version`` whose metric scored ``value``."""
    common: dict[str, Any] = {
        "metric": rule.metric,
        "value": value,
        "threshold": rule.threshold,
        "champion_value": champion_value,
        "policy": rule.policy.value,
    }
    stays = f"champion stays {champion}" if champion is not None else "no champion yet"
    if rule.policy is PolicyName.MANUAL:
        return Decision(
            Outcome.KEEP, f"manual policy: version {version} kept for a person to promote", **common
        )
    assert rule.metric is not None and rule.threshold is not None
    shown = "nan" if value is None or math.isnan(value) else f"{value:.4g}"
    if value is None or math.isnan(value):
        return Decision(
            Outcome.KEEP,
            f"{rule.metric}={shown} is not a number: version {version} kept, {stays}",
            **common,
        )
    sign = ">=" if higher_is_better else "<="
    fail = "<" if higher_is_better else ">"
    if not passes(value, rule.threshold, higher_is_better):
        return Decision(
            Outcome.KEEP,
            f"{rule.metric}={shown} {fail} {rule.threshold:.4g}: version {version} kept, {stays}",
            **common,
        )
    reason = f"{rule.metric}={shown} {sign} {rule.threshold:.4g}"
    if rule.policy is PolicyName.BEST and champion is not None and champion_value is not None:
        gain = (value - champion_value) if higher_is_better else (champion_value - value)
        vs = f"champion {champion} scored {champion_value:.4g} on the same holdout"
        if not gain > rule.margin:
            need = f" by more than {rule.margin:.4g}" if rule.margin else ""
            return Decision(
                Outcome.KEEP,
                f"{reason} but does not beat {vs}{need}: version {version} kept, {stays}",
                **common,
            )
        reason = f"{reason} and beats {vs}"
    if rule.require_approval:
        return Decision(
            Outcome.PENDING,
            f"{reason}: version {version} awaits approval (`modelyard models approve`)",
            **common,
        )
    return Decision(Outcome.PROMOTE, f"{reason}: version {version} promoted", **common)
