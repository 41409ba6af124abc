"""The ``[monitoring]`` table and each endpoint's monitoring declaration ``[endpoints.E]``.

    [monitoring]
    database_url = "postgresql+psycopg://mon:${MON_PASSWORD}@db/monitoring"  # default: registry
    keep_days = 30              # collected rows older than this are purged
    queue_rows = 10000          # rows buffered in memory per process before drops
    batch_rows = 1000           # rows per background insert
    flush_s = 0.5               # longest a row waits in the buffer
    check_every = "1m"          # how often the leader checks policies

    [endpoints.churn]
    window = "1d"               # the window drift and metrics are computed over
    min_rows = 100              # a policy is not checked on fewer rows
    reference = "churn:3"       # an entry script's reference (a model endpoint: its versions')
    drift = { share = 0.5, features = { Age = { method = "psi", threshold = 0.2 } } }
    policies = [
      { when = "psi > 0.2 on any feature", action = "retrain", training = "churn" },
      { when = "error rate > 1 %", action = "alert" },
    ]

    [endpoints.churn.labels]    # true values read on a schedule, joined on request ids
    source = "crm"
    query = "SELECT id, churned FROM outcomes"
    key = "id"
    label = "churned"
    every = "5m"

Policy expressions are parsed by ``monitoring.policies`` when the workspace opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.config.secret import SecretURL
from modelyard.errors import ConfigError

METHODS = ("ks", "wasserstein", "chisquare", "jensenshannon", "psi")
ACTIONS = ("retrain", "alert")
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, where: str = "duration") -> float:
    """Seconds in ``30s``, ``15m``, ``1h``, ``1d`` or ``2w``; a ConfigError says the form."""
    match = _DURATION.fullmatch(str(text))
    if match is None or float(match["n"]) <= 0:
        raise ConfigError(f"{where} = {text!r}: write a positive duration such as 30s, 15m, 1h, 1d")
    return float(match["n"]) * _SECONDS[match["unit"]]


@dataclass(frozen=True)
class FeatureRule:
    """A drift method and/or threshold that replaces the default for one feature."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftSettings:
    """How drift is judged: the share of drifted features that makes dataset drift, and
    per-feature overrides of the default method and threshold."""

    share: float = 0.5
    features: Mapping[str, FeatureRule] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelSource:
    """True values read from a declared source: ``query`` returns ``key`` (a request id)
    and ``label`` columns (and ``row``, the row of a request of several rows)."""

    source: str
    query: str
    key: str
    label: str = "label"
    row: str | None = None
    every_s: float = 300.0


@dataclass(frozen=True)
class PolicySettings:
    """``when`` the expression holds, ``action`` (``retrain`` the ``training``, or ``alert``)."""

    when: str
    action: str
    training: str | None = None


@dataclass(frozen=True)
class EndpointMonitoring:
    """One endpoint's monitoring declaration."""

    name: str
    window_s: float = 86400.0
    min_rows: int = 100
    reference: str | None = None
    drift: DriftSettings = field(default_factory=DriftSettings)
    labels: LabelSource | None = None
    policies: tuple[PolicySettings, ...] = ()


@dataclass(frozen=True)
class MonitoringSettings:
    """The ``[monitoring]`` table and the ``[endpoints.*]`` declarations."""

    database_url: SecretURL | None = None
    keep_days: float = 30.0
    queue_rows: int = 10_000
    batch_rows: int = 1_000
    flush_s: float = 0.5
    check_every_s: float = 60.0
    endpoints: Mapping[str, EndpointMonitoring] = field(default_factory=dict)

    def endpoint(self, name: str) -> EndpointMonitoring:
        """The declaration of ``name``, or the defaults when it has none."""
        return self.endpoints.get(name) or EndpointMonitoring(name)


def _number(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.{key} must be a positive number, not {value!r}")
    return float(value)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def _rule(value: Any, where: str) -> FeatureRule:
    table = _table(value, where)
    method = table.get("method")
    if method is not None and method not in METHODS:
        raise ConfigError(f"{where}.method = {method!r}: choose one of {', '.join(METHODS)}")
    threshold = table.get("threshold")
    if threshold is not None:
        threshold = _number(table, "threshold", 0, where)
    return FeatureRule(method, threshold)


def _labels(value: Any, where: str) -> LabelSource:
    table = _table(value, where)
    missing = [k for k in ("source", "query", "key") if not table.get(k)]
    if missing:
        raise ConfigError(f"{where} needs {', '.join(missing)} (source, query and key)")
    return LabelSource(
        source=str(table["source"]),
        query=str(table["query"]),
        key=str(table["key"]),
        label=str(table.get("label", "label")),
        row=str(table["row"]) if table.get("row") else None,
        every_s=parse_duration(table.get("every", "5m"), f"{where}.every"),
    )


def _policy(value: Any, where: str) -> PolicySettings:
    table = _table(value, where)
    when, action = table.get("when"), table.get("action", "alert")
    if not isinstance(when, str) or not when.strip():
        raise ConfigError(f'{where} needs when = "…" (e.g. "psi > 0.2 on any feature")')
    if action not in ACTIONS:
        raise ConfigError(f"{where}.action = {action!r}: choose one of {', '.join(ACTIONS)}")
    training = table.get("training")
    return PolicySettings(when.strip(), str(action), str(training) if training else None)


def _endpoint(name: str, value: Any) -> EndpointMonitoring:
    where = f"endpoints.{name}"
    table = _table(value, where)
    drift = _table(table.get("drift", {}), f"{where}.drift")
    share = _number(drift, "share", 0.5, f"{where}.drift")
    if share > 1:
        raise ConfigError(f"{where}.drift.share is a share of features, from 0 to 1")
    features = _table(drift.get("features", {}), f"{where}.drift.features")
    policies = table.get("policies", [])
    if not isinstance(policies, list):
        raise ConfigError(f"{where}.policies must be a list of {{ when, action }} tables")
    min_rows = table.get("min_rows", 100)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise ConfigError(f"{where}.min_rows must be a whole number of at least 1")
    return EndpointMonitoring(
        name=name,
        window_s=parse_duration(table.get("window", "1d"), f"{where}.window"),
        min_rows=min_rows,
        reference=str(table["reference"]) if table.get("reference") else None,
        drift=DriftSettings(
            share,
            {str(k): _rule(v, f"{where}.drift.features.{k}") for k, v in features.items()},
        ),
        labels=_labels(table["labels"], f"{where}.labels") if "labels" in table else None,
        policies=tuple(_policy(p, f"{where}.policies[{i}]") for i, p in enumerate(policies)),
    )


def monitoring_settings(
    section: Mapping[str, Any],
    endpoints: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    resolve: Callable[[str], str] = str,
) -> MonitoringSettings:
    """Parse ``[monitoring]`` and ``[endpoints.*]`` (``MODELYARD_MONITORING_DATABASE_URL``
    overrides the database; ``resolve`` makes a relative SQLite path absolute)."""
    url = env.get("MODELYARD_MONITORING_DATABASE_URL") or section.get("database_url")
    queue_rows = int(_number(section, "queue_rows", 10_000, "monitoring"))
    return MonitoringSettings(
        database_url=SecretURL(resolve(str(url))) if url else None,
        keep_days=_number(section, "keep_days", 30, "monitoring"),
        queue_rows=queue_rows,
        batch_rows=int(_number(section, "batch_rows", 1_000, "monitoring")),
        flush_s=_number(section, "flush_s", 0.5, "monitoring"),
        check_every_s=parse_duration(section.get("check_every", "1m"), "monitoring.check_every"),
        endpoints={str(k): _endpoint(str(k), v) for k, v in endpoints.items()},
    )
