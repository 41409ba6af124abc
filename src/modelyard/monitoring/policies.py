"""Monitoring policies: ``when`` an expression holds over the endpoint's window, act.

    psi > 0.2 on any feature          (on feature Age, on prediction)
    drifted features >= 2             drift share > 0.5
    estimated accuracy < gate         (gate: the training's promotion threshold)
    measured roc_auc < 0.75           error rate > 1 %          latency p99 > 250 ms

Expressions are parsed when the workspace opens: a mistake is a ConfigError then, not a
silent policy. A policy without a value to judge (no labels yet, no rows) is left as it
was; one judged on fewer than ``min_rows`` rows is not judged.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.config.monitoring import EndpointMonitoring, PolicySettings
from modelyard.errors import ConfigError
from modelyard.monitoring.metrics import METRICS
from modelyard.monitoring.report import Report
from modelyard.promotion import PromotionRule

_EXPRESSION = re.compile(
    r"^(?P<metric>estimated \w+|measured \w+|psi|drifted features|drift share|error rate"
    r"|latency p(?:50|90|99)|\w+)"
    r"\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<value>gate|-?\d+(?:\.\d+)?)\s*(?P<unit>%|ms)?"
    r"(?:\s+on\s+(?P<target>any feature|prediction|feature\s+\S+))?\s*$",
    re.IGNORECASE,
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
EXAMPLES = '"psi > 0.2 on any feature", "estimated accuracy < gate", "error rate > 1 %"'


@dataclass(frozen=True)
class Verdict:
    """A policy judged: breached or not, the value judged, and a sentence saying so."""

    breached: bool
    value: float | None
    reason: str


@dataclass(frozen=True)
class Policy:
    """A parsed policy of one endpoint."""

    endpoint: str
    text: str
    metric: str
    op: str
    threshold: float
    target: str | None  # "any feature", "prediction" or "feature NAME" (psi only)
    action: str
    training: str | None
    min_rows: int

    def judge(self, report: Report) -> Verdict:
        """Whether ``report`` breaches this policy."""
        value, what = self._value(report)
        if value is None or math.isnan(value):
            return Verdict(False, None, f"{self.text}: nothing to judge ({what})")
        breached = _OPS[self.op](value, self.threshold)
        shown = f"{value:.4g}" if self.metric not in ("error rate",) else f"{value:.2%}"
        sign = self.op if breached else {">": "<=", ">=": "<", "<": ">=", "<=": ">"}[self.op]
        limit = f"{self.threshold:.2%}" if self.metric == "error rate" else f"{self.threshold:.4g}"
        return Verdict(breached, value, f"{what} = {shown} {sign} {limit} ({self.text})")

    def _value(self, report: Report) -> tuple[float | None, str]:
        metric = self.metric
        if metric in ("error rate",) or metric.startswith("latency"):
            if report.requests < self.min_rows:
                return None, f"{report.requests} requests, fewer than min_rows = {self.min_rows}"
            if metric == "error rate":
                return report.service.get("error_rate"), "error rate"
            latency = report.service.get("latency_ms", {}).get(metric.split()[-1])
            return latency, metric
        if report.rows < self.min_rows:
            return None, f"{report.rows} rows, fewer than min_rows = {self.min_rows}"
        if metric.startswith("estimated "):
            name = metric.split()[1]
            estimate = report.estimated.get(name)
            return (estimate.value if estimate else None), metric
        if metric.startswith("measured "):
            return report.measured.get(metric.split()[1]), metric
        drift = report.drift
        if drift is None:
            return None, "no drift computed"
        if metric == "drifted features":
            return float(len(drift.drifted)), "drifted features"
        if metric == "drift share":
            return len(drift.drifted) / max(1, len(drift.features)), "drift share"
        return self._psi(report)

    def _psi(self, report: Report) -> tuple[float | None, str]:
        drift = report.drift
        assert drift is not None
        target = self.target or "any feature"
        if target == "prediction":
            psi = drift.prediction.psi if drift.prediction else None
            return psi, "psi of the prediction"
        if target.startswith("feature "):
            name = target.split(None, 1)[1]
            found = next((f for f in drift.features if f.feature == name), None)
            return (found.psi if found else None), f"psi of {name}"
        values = [(f.psi, f.feature) for f in drift.features if not math.isnan(f.psi)]
        if not values:
            return None, "psi"
        pick = max if self.op in (">", ">=") else min
        psi, feature = pick(values)
        return psi, f"psi of {feature}"


def _training_for(model: str | None, trainings: Mapping[str, Mapping[str, Any]]) -> str | None:
    if model is None:
        return None
    return next((n for n, d in trainings.items() if str(d.get("model", n)) == model), None)


def parse_policy(
    declared: PolicySettings,
    endpoint: EndpointMonitoring,
    *,
    model: str | None,
    trainings: Mapping[str, Mapping[str, Any]],
) -> Policy:
    """Parse one declared policy of ``endpoint`` (serving ``model``); the ``gate`` and a
    retrain's training come from ``trainings``. Raises ``ConfigError`` with what to write."""
    where = f"[endpoints.{endpoint.name}] policy {declared.when!r}"
    match = _EXPRESSION.match(declared.when)
    if match is None:
        raise ConfigError(f"{where}: write an expression such as {EXAMPLES}")
    metric = " ".join(match["metric"].lower().split())
    name = metric.split()[-1]
    if (metric.startswith(("estimated ", "measured ")) or metric == name) and metric not in (
        "psi",
    ):
        if name not in METRICS:
            raise ConfigError(f"{where}: unknown metric {name!r} (known: {', '.join(METRICS)})")
        if metric == name:
            metric = f"measured {name}"
    if match["target"] and metric != "psi":
        raise ConfigError(f"{where}: 'on …' goes with psi only")
    training = declared.training or _training_for(model, trainings)
    if declared.action == "retrain" and training is None:
        raise ConfigError(
            f'{where}: action retrain needs training = "NAME" (no training makes {model})'
        )
    if declared.action == "retrain" and training not in trainings:
        raise ConfigError(f"{where}: no training named {training!r} in modelyard.toml")
    raw = match["value"].lower()
    if raw == "gate":
        threshold = _gate(where, metric, training, trainings)
    else:
        threshold = float(raw) / (100 if match["unit"] == "%" else 1)
    target = " ".join(match["target"].split()) if match["target"] else None
    return Policy(
        endpoint=endpoint.name,
        text=declared.when,
        metric=metric,
        op=match["op"],
        threshold=threshold,
        target=target,
        action=declared.action,
        training=training,
        min_rows=endpoint.min_rows,
    )


def _gate(
    where: str, metric: str, training: str | None, trainings: Mapping[str, Mapping[str, Any]]
) -> float:
    if training is None or training not in trainings:
        raise ConfigError(
            f"{where}: 'gate' needs the training whose gate it is (training = \"NAME\")"
        )
    rule = PromotionRule.from_mapping(
        trainings[training].get("promotion") or {}, f"trainings.{training}.promotion"
    )
    name = metric.split()[-1]
    if rule.metric != name or rule.threshold is None:
        raise ConfigError(
            f"{where}: training {training} gates on {rule.metric or 'nothing'}, not {name}: "
            "write a number instead of gate"
        )
    return rule.threshold
