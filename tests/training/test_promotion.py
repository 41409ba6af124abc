"""Promotion policies decide with a reason a person can read."""

from __future__ import annotations

import math

import pytest

from modelyard.errors import ConfigError
from modelyard.promotion import PromotionRule, decide
from modelyard.types import Outcome, PolicyName

SEED_RULE = PromotionRule.from_mapping({"metric": "r2", "min": 0.8})


def test_latest_passing_is_the_default_and_the_seeds_rule() -> None:
    assert SEED_RULE.policy is PolicyName.LATEST_PASSING
    good = decide(SEED_RULE, version=4, value=0.91, higher_is_better=True, champion=3)
    assert good.outcome is Outcome.PROMOTE
    assert good.reason == "r2=0.91 >= 0.8: version 4 promoted"
    bad = decide(SEED_RULE, version=4, value=0.62, higher_is_better=True, champion=3)
    assert bad.outcome is Outcome.KEEP
    assert bad.reason == "r2=0.62 < 0.8: version 4 kept, champion stays 3"


def test_lower_is_better_metrics_use_max() -> None:
    rule = PromotionRule.from_mapping({"metric": "rmse", "max": 10.0})
    assert decide(rule, version=2, value=9.0, higher_is_better=False).promote
    kept = decide(rule, version=2, value=11.0, higher_is_better=False)
    assert kept.reason == "rmse=11 > 10: version 2 kept, no champion yet"


def test_best_must_pass_and_beat_the_champion_by_the_margin() -> None:
    rule = PromotionRule.from_mapping(
        {"metric": "roc_auc", "min": 0.7, "policy": "best", "margin": 0.01}
    )
    beaten = decide(
        rule, version=5, value=0.80, higher_is_better=True, champion=4, champion_value=0.795
    )
    assert beaten.outcome is Outcome.KEEP and "does not beat champion 4" in beaten.reason
    wins = decide(
        rule, version=5, value=0.82, higher_is_better=True, champion=4, champion_value=0.795
    )
    assert wins.promote and "beats champion 4 scored 0.795" in wins.reason
    first = decide(rule, version=1, value=0.8, higher_is_better=True)
    assert first.promote


def test_manual_and_approval() -> None:
    manual = decide(
        PromotionRule.from_mapping({"policy": "manual"}),
        version=2,
        value=0.99,
        higher_is_better=True,
    )
    assert manual.outcome is Outcome.KEEP and "manual" in manual.reason
    held = PromotionRule.from_mapping({"metric": "r2", "min": 0.8, "require_approval": True})
    pending = decide(held, version=2, value=0.9, higher_is_better=True)
    assert pending.outcome is Outcome.PENDING and "awaits approval" in pending.reason


def test_nan_never_promotes() -> None:
    nan = decide(SEED_RULE, version=2, value=math.nan, higher_is_better=True)
    assert nan.outcome is Outcome.KEEP and "not a number" in nan.reason


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"metric": "r2"}, "needs a metric and a threshold"),
        ({"metric": "r2", "min": 0.8, "policy": "sometimes"}, "policy must be one of"),
        ({"metric": "r2", "min": 0.8, "max": 0.9}, "one of min, max"),
        ({"metric": "r2", "minimum": 0.8}, "unknown keys minimum"),
    ],
)
def test_bad_rules_say_what_to_write(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PromotionRule.from_mapping(table)
