"""Monitoring that closes the loop, through the real server and CLI: 5,000 churn rows
scored like the training data, then 5,000 with one feature shifted; the report flags that
feature and only it; the policy starts one retraining run; CBPE's accuracy without
labels is within 0.03 of the accuracy measured once the labels are posted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from modelyard import Workspace
from modelyard.web.admin.app import create_control_app
from tests.cli.test_cli import cli
from tests.helpers.monitoring import (
    ADMIN,
    accuracy_of,
    churn_workspace,
    labels_for,
    like_training,
    older_customers,
    score,
)
from tests.helpers.server import running

POLICY = "psi > 0.1 on any feature"


@dataclass(frozen=True)
class Scenario:
    ws: Workspace
    root: Path
    base: str
    plain: pd.DataFrame  # scored first, drawn like the training data
    shifted: pd.DataFrame  # scored next: customers of 45 and over
    plain_ids: list[str]
    shifted_ids: list[str]
    started: datetime
    shift_at: datetime


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    root = tmp_path
    declaration = {
        "window": "1d",
        "min_rows": 500,
        "policies": [{"when": POLICY, "action": "retrain", "training": "churn"}],
    }
    ws = churn_workspace(root, {"churn": declaration}, monitoring={"flush_s": 0.05})
    run = ws.trainings.run("churn", wait=True)
    assert run.decision is not None and run.decision.outcome.value == "promote"
    key = (ws.endpoints.create("churn", model="churn@champion", collect=True).keys or {})["primary"]
    plain, shifted = like_training(5000, seed=21), older_customers(5000, seed=22)
    app = create_control_app(ws, follow_interval=0.2)
    with running(app) as base:
        started = datetime.now(UTC)
        plain_ids = score(base, key, plain, "plain")
        shift_at = datetime.now(UTC)
        shifted_ids = score(base, key, shifted, "older")
        app.state.runtime.collector.flush()
        yield Scenario(ws, root, base, plain, shifted, plain_ids, shifted_ids, started, shift_at)
    ws.close()


def test_monitoring_closes_the_loop(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    """One scenario (a training and 10,000 scored rows are the costly part), four checks."""
    report_flags_the_shifted_feature_only(scenario, capsys)
    policy_starts_exactly_one_retraining_run(scenario)
    cbpe_is_within_003_of_the_measured_accuracy(scenario)
    html_report_is_one_small_self_contained_file(scenario, capsys)


def report_flags_the_shifted_feature_only(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report flags the shifted feature and only it, naming method and threshold."""
    ws = ("--workspace", str(scenario.root))
    before = scenario.shift_at.isoformat()
    code, out, _ = cli(
        capsys, *ws, "monitor", "churn", "--since", scenario.started.isoformat(), "--until", before
    )
    assert code == 0, out
    assert "0 of 10 features drifted" in out
    code, out, _ = cli(capsys, *ws, "monitor", "churn", "--since", before)
    assert code == 0, out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "wasserstein" in lines["Age"] and ">= 0.1" in lines["Age"] and "yes" in lines["Age"]
    drifted = [name for name, line in lines.items() if "│ yes" in line]
    assert drifted == ["Age", "prediction"]  # older customers leave more: so does the prediction
    assert "1 of 10 features drifted" in out
    # the same over the admin API, for the whole window (both parts: Age still stands out)
    answer = httpx.get(f"{scenario.base}/api/v1/endpoints/churn/monitoring", headers=ADMIN)
    report = answer.json()
    assert report["rows"] == 10_000 and report["drift"]["drifted"] == ["Age"]
    age = next(f for f in report["drift"]["features"] if f["feature"] == "Age")
    assert (age["method"], age["threshold"], age["rule"]) == ("wasserstein", 0.1, ">= 0.1")
    assert len(report["timeline"]) == 24 and report["service"]["requests"] == 200


def policy_starts_exactly_one_retraining_run(scenario: Scenario) -> None:
    """Three checks of one breach: one run, whose record names the breach."""
    ws = scenario.ws
    stop_at = time.monotonic() + 60
    for _ in range(3):  # three checks of the same breach: one run
        fired = ws.monitoring.check()
        assert time.monotonic() < stop_at
    runs = [r for r in ws.runs.list("churn") if r.trigger == "policy"]
    assert len(runs) == 1, runs
    run = runs[0]
    assert run.reason is not None and "psi of Age" in run.reason and POLICY in run.reason
    assert run.actor == "monitoring" and run.state.value == "queued"
    (state,) = [s for s in ws.monitoring.policy_states("churn") if s.policy == POLICY]
    assert state.breached and state.run_id == run.id
    assert fired == []  # the later checks saw the breach acted on already
    events = httpx.get(f"{scenario.base}/api/v1/events", headers=ADMIN).json()
    kinds = [e["kind"] for e in events]
    assert kinds.count("policy_fired") == 1 and kinds.count("drift_detected") == 1
    fired_event = next(e for e in events if e["kind"] == "policy_fired")["data"]
    assert fired_event["run_id"] == run.id and fired_event["action"] == "retrain"


def cbpe_is_within_003_of_the_measured_accuracy(scenario: Scenario) -> None:
    """Labels withheld, then posted: unshifted and shifted windows."""
    ws = scenario.ws
    model = ws.models.load("churn@champion")
    windows = (
        (scenario.started, scenario.shift_at, scenario.plain, scenario.plain_ids),
        (scenario.shift_at, datetime.now(UTC), scenario.shifted, scenario.shifted_ids),
    )
    for since, until, frame, ids in windows:
        blind = ws.monitoring.report("churn", since=since, until=until, timeline=False)
        assert blind.labelled == 0
        estimate = blind.estimated["accuracy"]
        refused = httpx.post(
            f"{scenario.base}/api/v1/endpoints/churn/feedback",
            json={"labels": [{"label": 1}]},
            headers=ADMIN,
        )
        assert refused.status_code == 422 and "request_id" in refused.text
        answer = httpx.post(
            f"{scenario.base}/api/v1/endpoints/churn/feedback",
            json={"labels": labels_for(frame, ids)},
            headers=ADMIN,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"stored": 5000, "matched": 5000}
        seen = ws.monitoring.report("churn", since=since, until=until, timeline=False)
        assert seen.labelled == 5000
        measured = seen.measured["accuracy"]
        assert measured == pytest.approx(accuracy_of(model, frame))
        assert abs(estimate.value - measured) <= 0.03, (estimate, measured)
        assert estimate.low <= estimate.value <= estimate.high


def html_report_is_one_small_self_contained_file(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """Charts drawn inline, nothing fetched, small."""
    target = scenario.root / "report.html"
    code, out, _ = cli(
        capsys, "--workspace", str(scenario.root), "monitor", "churn", "--html", str(target)
    )
    assert code == 0, out
    html = target.read_text(encoding="utf-8")
    assert html.count("<svg") >= 14  # 10 distributions and 4+ charts over time
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    assert target.stat().st_size < 200_000
