"""``modelyard models reproduce NAME:V`` and ``ws.models.reproduce``: a version refitted
from its recorded lineage, its metrics beside the recorded ones."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.errors import InvalidInput
from modelyard.training.lineage import package_versions
from modelyard.training.reproduce import differences
from tests.cli.test_cli import cli

CONFIG = """
[sources.demo]
url = "sqlite:///demo.db"

[trainings.immo]
source = "demo"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
evaluation = { holdout = 0.2, seed = 42 }
promotion = { metric = "r2", min = 0.5, policy = "latest-passing" }

[trainings.churn]
source = "demo"
table = "churn"
target = "Exited"
estimator = "xgboost.XGBClassifier"
params = { n_estimators = 40, max_depth = 3, learning_rate = 0.1, random_state = 0 }
evaluation = { holdout = 0.25, seed = 7 }
promotion = { metric = "roc_auc", min = 0.5, policy = "latest-passing" }

[[trainings.churn.steps]]
name = "onehot"
estimator = "sklearn.preprocessing.OneHotEncoder"
params = { handle_unknown = "ignore" }
columns = ["Geography", "Gender"]

[[trainings.churn.steps]]
name = "scale"
estimator = "sklearn.preprocessing.StandardScaler"
columns = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
           "IsActiveMember", "EstimatedSalary"]
"""


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A workspace with the immo and churn trainings, their rows written, each trained once."""
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    with (tmp_path / "modelyard.toml").open("a") as handle:
        handle.write(CONFIG)
    ws = ["--workspace", str(tmp_path)]
    for kind, rows in (("immo", 300), ("churn", 400)):
        assert cli(capsys, *ws, "demo-data", kind, "--source", "demo", "--rows", str(rows))[0] == 0
        code, out, err = cli(capsys, *ws, "train", kind)
        assert code == 0 and f"registered {kind}:1" in out, err
    return tmp_path


def test_immo_and_churn_reproduce_their_recorded_metrics_within_1e_9(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for ref in ("immo:1", "churn:1"):
        code, out, err = cli(capsys, "--workspace", str(root), "models", "reproduce", ref)
        assert code == 0, err
        assert f"{ref} reproduced: every metric within 1e-09" in out
        assert "data fingerprint unchanged" in out
    with Workspace.from_config(root) as ws:
        for ref in ("immo:1", "churn:1"):
            found = ws.models.reproduce(ref)
            assert found.reproduced and not found.data_changed and not found.forced
            recorded = ws.models.resolve(ref).metrics
            assert {m.name for m in found.metrics} == set(recorded)
            for pair in found.metrics:
                assert pair.reproduced is not None
                assert abs(pair.reproduced - recorded[pair.name]) <= 1e-9


def test_rows_added_since_are_named_and_both_metric_sets_shown(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(root)]
    added = [*ws, "demo-data", "immo", "--source", "demo", "--rows", "120", "--seed", "5"]
    assert cli(capsys, *added)[0] == 0
    code, out, err = cli(capsys, *ws, "models", "reproduce", "immo:1")
    assert code == 1 and "immo:1 not reproduced" in err and "rows changed" in err
    assert "data fingerprint changed" in out and "300 rows" in out and "420 rows" in out
    with Workspace.from_config(root) as opened:
        found = opened.models.reproduce("immo:1")
        recorded = opened.models.resolve("immo:1").metrics
    assert found.data_changed and not found.reproduced
    row = next(line for line in out.splitlines() if " r2 " in f" {line} ")
    r2 = next(p for p in found.metrics if p.name == "r2")
    assert r2.reproduced is not None and r2.recorded == recorded["r2"]
    assert f"{r2.recorded:.12g}" in row and f"{r2.reproduced:.12g}" in row  # side by side


def test_changed_code_is_refused_with_the_difference_unless_forced(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = root / "modelyard.toml"
    config.write_text(
        config.read_text().replace(
            'estimator = "sklearn.linear_model.LinearRegression"',
            'estimator = "sklearn.linear_model.Ridge"',
        )
    )
    ws = ["--workspace", str(root)]
    code, out, err = cli(capsys, *ws, "models", "reproduce", "immo:1")
    assert code == 1 and "code: [trainings.immo] changed" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1 and "r2" not in out  # nothing was refitted
    code, out, err = cli(capsys, *ws, "models", "reproduce", "immo:1", "--force")
    assert "forced over: code: [trainings.immo] changed" in out and " r2 " in out


def test_package_differences_are_listed_and_a_registered_file_has_no_lineage(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Workspace.from_config(root) as ws:
        version = ws.models.resolve("immo:1")
        packages = {**version.lineage["packages"], "scikit-learn": "0.22.1"}
        older = dataclasses.replace(version, lineage={**version.lineage, "packages": packages})
        now = package_versions()["scikit-learn"]
        found = differences(ws.trainings.get("immo"), ws.settings, older)
        assert found == [f"scikit-learn 0.22.1 recorded, {now} now"]
        (root / "m.pkl").write_bytes(pickle.dumps({"a": 1}))
        ws.models.register("m", root / "m.pkl", allow_pickle=True)
        with pytest.raises(InvalidInput, match="registered, not trained"):
            ws.models.reproduce("m:1")
