"""Policy expressions: parsed when the workspace opens, judged on a report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelyard.config.monitoring import EndpointMonitoring, PolicySettings
from modelyard.errors import ConfigError
from modelyard.monitoring.cbpe import Estimate
from modelyard.monitoring.drift import DriftResult, FeatureDrift
from modelyard.monitoring.policies import parse_policy
from modelyard.monitoring.report import Report, Span

TRAININGS = {
    "churn": {"model": "churn", "promotion": {"metric": "accuracy", "min": 0.8}},
    "other": {"model": "other", "promotion": {"metric": "roc_auc", "min": 0.7}},
}
ENDPOINT = EndpointMonitoring("churn", min_rows=100)


def parse(when: str, action: str = "alert", training: str | None = None):  # type: ignore[no-untyped-def]
    return parse_policy(
        PolicySettings(when, action, training), ENDPOINT, model="churn", trainings=TRAININGS
    )


def report(
    rows: int = 500, psi: float = 0.05, estimated: float = 0.9, errors: float = 0.0
) -> Report:
    features = tuple(
        FeatureDrift(n, "numeric", "wasserstein", 0.01, 0.1, ">= 0.1", False, p, rows)
        for n, p in (("Age", psi), ("Tenure", 0.01))
    )
    now = datetime.now(UTC)
    return Report(
        endpoint="churn",
        span=Span(now, now),
        rows=rows,
        requests=rows,
        reference=None,
        drift=DriftResult(features, None, 0.5, False),
        measured={},
        labelled=0,
        estimated={"accuracy": Estimate(estimated, estimated, estimated)},
        service={"requests": rows, "error_rate": errors, "latency_ms": {"p99": 12.0}},
    )


def test_the_three_examples_parse_and_judge() -> None:
    psi = parse("psi > 0.2 on any feature", "retrain")
    assert (psi.metric, psi.op, psi.threshold, psi.training) == ("psi", ">", 0.2, "churn")
    assert not psi.judge(report(psi=0.1)).breached
    verdict = psi.judge(report(psi=0.35))
    assert verdict.breached and verdict.value == 0.35
    assert "psi of Age = 0.35 > 0.2" in verdict.reason
    gate = parse("estimated accuracy < gate")
    assert gate.threshold == 0.8  # the training's promotion threshold
    assert gate.judge(report(estimated=0.75)).breached
    assert not gate.judge(report(estimated=0.85)).breached
    errors = parse("error rate > 1 %")
    assert errors.threshold == 0.01
    assert errors.judge(report(errors=0.02)).breached


def test_too_few_rows_leave_the_policy_unjudged() -> None:
    verdict = parse("psi > 0.2 on any feature").judge(report(rows=50, psi=0.9))
    assert verdict.value is None and not verdict.breached
    assert "fewer than min_rows = 100" in verdict.reason


@pytest.mark.parametrize(
    ("when", "training", "message"),
    [
        ("psi is high", None, "write an expression such as"),
        ("estimated wobble < 0.3", None, "unknown metric 'wobble'"),
        ("estimated roc_auc < gate", None, "gates on accuracy, not roc_auc"),
        ("error rate > 1 % on any feature", None, "'on …' goes with psi only"),
        ("psi > 0.2", "nope", "no training named 'nope'"),
    ],
)
def test_mistakes_are_config_errors_saying_what_to_write(
    when: str, training: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(when, "retrain", training)
