"""The gate is one call: ``decide_and_apply`` decides on a version against the champion,
applies the decision in the registry and returns it as applied."""

from __future__ import annotations

from pathlib import Path

from modelyard.training.gate import decide_and_apply
from modelyard.training.spec import TrainingSpec
from modelyard.types import Outcome
from modelyard.workspace.root import Workspace
from tests.helpers.models import register_constants

DECLARATION = {
    "model": "prices",
    "source": "db",
    "table": "t",
    "target": "y",
    "estimator": "sklearn.linear_model.LinearRegression",
    "promotion": {"metric": "r2", "min": 0.8, "policy": "latest-passing"},
}
NO_HELD_OUT = (None, None, None, ())  # latest-passing never scores the champion


def test_a_passing_version_is_promoted_and_the_decision_returned(tmp_path: Path) -> None:
    spec = TrainingSpec.parse("prices", DECLARATION, tmp_path)
    with Workspace.init(tmp_path) as ws:
        first, second = register_constants(ws, "prices", 1.0, 2.0)
        decision = decide_and_apply(ws.registry, spec, first, {"r2": 0.9}, NO_HELD_OUT, "ci")
        assert decision.outcome is Outcome.PROMOTE
        assert ws.models.resolve("prices@champion").version == first
        kept = decide_and_apply(ws.registry, spec, second, {"r2": 0.5}, NO_HELD_OUT, "ci")
        assert kept.outcome is Outcome.KEEP and "0.5" in kept.reason
        assert ws.models.resolve("prices@champion").version == first


def test_an_approval_rule_marks_the_version_pending(tmp_path: Path) -> None:
    held = {**DECLARATION, "promotion": {**DECLARATION["promotion"], "require_approval": True}}
    spec = TrainingSpec.parse("prices", held, tmp_path)
    with Workspace.init(tmp_path) as ws:
        (version,) = register_constants(ws, "prices", 1.0)
        decision = decide_and_apply(ws.registry, spec, version, {"r2": 0.9}, NO_HELD_OUT, "ci")
        assert decision.outcome is Outcome.PENDING
        assert ws.models.get("prices", version=version).status.value == "pending_approval"
