"""The leader's monitoring checks: drift and policies over each declared endpoint's window.

A breach acts once, when it begins (``PolicyStateStore.breach`` turns a policy from fine to
breached for one caller only): a ``policy_fired`` event, and for ``retrain`` one queued
run of the training, whose idempotency key is the breach's (endpoint, policy, start), so
a check repeated after a crash finds the same run instead of starting another. The run
goes through the training's gate like any other: nothing is promoted unconditionally.
A window whose features drift gives one ``drift_detected`` event, likewise once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from modelyard.config.monitoring import MonitoringSettings
from modelyard.errors import EndpointNotFound, ModelyardError
from modelyard.monitoring.policies import Policy
from modelyard.monitoring.report import Report, Reporter, Span
from modelyard.storage.endpoints import EndpointRecord, EndpointStore
from modelyard.storage.feed import FeedStore
from modelyard.storage.policy_states import PolicyStateStore
from modelyard.storage.schema import utcnow

log = logging.getLogger("modelyard.monitoring")
DRIFT = "drift"  # the policy-state name of "some feature drifts"

Trigger = Callable[[str, str, str], str]
"""Queue a run of (training, reason, idempotency key); returns the run id."""


@dataclass(frozen=True)
class Fired:
    """A breach acted on."""

    endpoint: str
    policy: str
    action: str
    reason: str
    run_id: str | None


class Checks:
    """Judges every declared endpoint's window and acts on what begins to breach."""

    def __init__(
        self,
        reporter: Reporter,
        endpoints: EndpointStore,
        states: PolicyStateStore,
        feed: FeedStore,
        settings: MonitoringSettings,
        policies: Callable[[EndpointRecord], Sequence[Policy]],
        trigger: Trigger,
    ) -> None:
        self._reporter = reporter
        self._endpoints = endpoints
        self._states = states
        self._feed = feed
        self._settings = settings
        self._policies = policies
        self._trigger = trigger

    def run(self, now: datetime | None = None) -> list[Fired]:
        """Check every declared endpoint once; returns the breaches acted on."""
        moment = now or utcnow()
        fired: list[Fired] = []
        for name, declaration in self._settings.endpoints.items():
            try:
                record = self._endpoints.get(name)
            except EndpointNotFound:
                continue
            span = Span.trailing(declaration.window_s, until=moment)
            try:
                report = self._reporter.report(record, declaration, span, timeline=False)
                self._drift(report, declaration.min_rows, moment)
                for policy in self._policies(record):
                    done = self._judge(policy, report, moment)
                    if done is not None:
                        fired.append(done)
            except ModelyardError as exc:
                log.warning("monitoring check of %s: %s", name, exc.message)
        return fired

    def _drift(self, report: Report, min_rows: int, moment: datetime) -> None:
        drift = report.drift
        if drift is None or report.rows < min_rows:
            return
        drifted = [f for f in drift.features if f.drifted]
        if not drifted:
            self._states.clear(report.endpoint, DRIFT, value=0.0, at=moment)
            return
        reason = ", ".join(f"{f.feature} ({f.method} {f.statistic:.4g}, {f.rule})" for f in drifted)
        if self._states.breach(
            report.endpoint, DRIFT, value=float(len(drifted)), reason=reason, at=moment
        ):
            state = self._states.get(report.endpoint, DRIFT)
            since = state.since if state and state.since else moment
            self._feed.append(
                "drift_detected",
                report.endpoint,
                {
                    "endpoint": report.endpoint,
                    "features": [f.to_dict() for f in drifted],
                    "dataset_drift": drift.dataset_drift,
                    "reference": report.reference,
                    "since": report.span.since.isoformat(),
                    "until": report.span.until.isoformat(),
                    "rows": report.rows,
                },
                origin=f"drift:{report.endpoint}:{since.isoformat()}",
            )

    def _judge(self, policy: Policy, report: Report, moment: datetime) -> Fired | None:
        verdict = policy.judge(report)
        if verdict.value is None:
            return None
        if not verdict.breached:
            self._states.clear(policy.endpoint, policy.text, value=verdict.value, at=moment)
            return None
        began = self._states.breach(
            policy.endpoint, policy.text, value=verdict.value, reason=verdict.reason, at=moment
        )
        state = self._states.get(policy.endpoint, policy.text)
        if state is None or state.since is None:
            return None
        if not began and (policy.action != "retrain" or state.run_id is not None):
            return None  # the same breach, acted on already
        run_id = state.run_id
        if policy.action == "retrain" and run_id is None:
            assert policy.training is not None
            key = f"policy:{policy.endpoint}:{policy.text}:{state.since.isoformat()}"[:200]
            reason = f"policy of endpoint {policy.endpoint}: {verdict.reason}"
            run_id = self._trigger(policy.training, reason, key)
            self._states.set_run(policy.endpoint, policy.text, run_id)
        self._feed.append(
            "policy_fired",
            policy.endpoint,
            {
                "endpoint": policy.endpoint,
                "policy": policy.text,
                "action": policy.action,
                "training": policy.training if policy.action == "retrain" else None,
                "value": verdict.value,
                "reason": verdict.reason,
                "run_id": run_id,
                "since": state.since.isoformat(),
            },
            origin=f"policy:{policy.endpoint}:{policy.text}:{state.since.isoformat()}"[:200],
        )
        log.warning("endpoint %s: %s -> %s", policy.endpoint, verdict.reason, policy.action)
        return Fired(policy.endpoint, policy.text, policy.action, verdict.reason, run_id)
