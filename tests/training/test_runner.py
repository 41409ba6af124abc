"""Training from SQL end to end: seed 000's immo flow on three databases, churn on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard import SecretURL, Workspace
from modelyard.training.demo_data import churn_training
from modelyard.training.estimators import build_estimator
from modelyard.training.evaluation import holdout
from modelyard.types import Outcome, RunState, VersionStatus
from tests.conftest import make_settings

SEED_SCRIPT = """\
def azureml_main(dataframe1 = None, dataframe2 = None):
    from sklearn import linear_model
    import pandas as pd
    import pickle
    surface = pd.DataFrame(dataframe1, columns=["surface"])
    prix = pd.DataFrame(dataframe1, columns=["prix"])
    lr = linear_model.LinearRegression()
    lr.fit(surface, prix)
    result = pickle.dumps(lr)
    ret = pd.DataFrame([result], columns=["result"])
    ret["coef"] = pd.DataFrame(lr.coef_, columns=["coef"])
    return ret,
"""


def immo_workspace(
    root: Path, registry_url: str, source_url: str, table: str, **training: Any
) -> Workspace:
    """A workspace with seed 000's training declared on ``table``."""
    declaration = {
        "source": "immo_db",
        "query": f"SELECT surface, prix FROM {table}",
        "target": "prix",
        "estimator": "sklearn.linear_model.LinearRegression",
        "evaluation": {"holdout": 0.2, "seed": 42},
        "promotion": {"metric": "r2", "min": 0.8, "policy": "latest-passing"},
        **training,
    }
    return Workspace(
        make_settings(
            root,
            registry_url,
            sources={"immo_db": {"url": source_url}},
            trainings={"immo": declaration},
        )
    )


@pytest.fixture
def table() -> str:
    return f"immo_{uuid.uuid4().hex[:8]}"


def test_seed_000_immo_flow_on_each_database(db_url: str, tmp_path: Path, table: str) -> None:
    ws = immo_workspace(tmp_path, db_url, db_url, table)
    for seed in (1, 2, 3):
        ws.sources.demo_data("immo", "immo_db", 400, table=table, seed=seed, replace=True)
        run = ws.trainings.run("immo")
        assert run.state is RunState.SUCCEEDED, run.error
        assert run.metrics["r2"] >= 0.8 and run.rows == 400
        assert run.decision is not None and run.decision.outcome is Outcome.PROMOTE
        assert ws.models.get("immo").version == run.version == seed
    ws.sources.demo_data("immo", "immo_db", 400, table=table, seed=9, noisy=True, replace=True)
    noisy = ws.trainings.run("immo")
    assert noisy.state is RunState.SUCCEEDED and noisy.version == 4
    assert noisy.decision is not None and noisy.decision.outcome is Outcome.KEEP
    assert noisy.decision.reason.endswith("< 0.8: version 4 kept, champion stays 3")
    assert ws.runs.get(noisy.id).decision == noisy.decision
    assert ws.models.get("immo").version == 3
    kept = ws.models.get("immo", version=4)
    assert kept.metrics["r2"] < 0.8
    assert kept.lineage["rows"] == 400 and kept.lineage["query"].endswith(table)
    assert kept.lineage["source_url"] == str(SecretURL(db_url))
    assert len(kept.lineage["data_fingerprint"]) == 64 and kept.lineage["packages"]["scikit-learn"]
    assert kept.profile is not None and kept.profile["features"]["surface"]["kind"] == "numeric"
    promotions = [e.reason for e in ws.models.history("immo", alias="champion")]
    assert promotions[-1] == "r2={:.4g} >= 0.8: version 3 promoted".format(
        ws.runs.list("immo")[1].metrics["r2"]
    )
    ws.close()


def test_the_seeds_azure_classic_script_runs_as_written(tmp_path: Path, table: str) -> None:
    (tmp_path / "azure_train.py").write_text(SEED_SCRIPT)
    url = f"sqlite:///{tmp_path / 'data.db'}"
    ws = immo_workspace(
        tmp_path,
        f"sqlite:///{tmp_path / 'r.db'}",
        url,
        table,
        estimator=None,
        script="azure_train.py",
    )
    ws.sources.demo_data("immo", "immo_db", 300, table=table)
    run = ws.trainings.run("immo")
    assert run.state is RunState.SUCCEEDED, run.error
    version = ws.models.get("immo")
    assert (version.format.value, version.allow_pickle) == ("skops", False)
    model: Any = ws.models.load("immo@champion")
    price = float(
        np.ravel(model.predict(ws.sources.read("immo_db", table=table)[["surface"]][:1]))[0]
    )
    assert price > 0
    assert version.lineage["script"] == "azure_train.py"


def test_require_approval_holds_a_passing_version(tmp_path: Path, table: str) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    rule = {"metric": "r2", "min": 0.8, "require_approval": True}
    ws = immo_workspace(tmp_path, url, url, table, promotion=rule)
    ws.sources.demo_data("immo", "immo_db", 300, table=table)
    run = ws.trainings.run("immo")
    assert run.decision is not None and run.decision.outcome is Outcome.PENDING
    assert ws.models.get("immo", version=1).status is VersionStatus.PENDING_APPROVAL
    ws.models.approve("immo", 1)
    assert ws.models.get("immo").version == 1


def test_best_policy_compares_with_the_champion_on_the_same_holdout(
    tmp_path: Path, table: str
) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    rule = {"metric": "r2", "min": 0.5, "policy": "best", "margin": 0.0}
    ws = immo_workspace(tmp_path, url, url, table, promotion=rule)
    ws.sources.demo_data("immo", "immo_db", 300, table=table)
    assert ws.trainings.run("immo").version == 1
    again = ws.trainings.run("immo")  # the same data: equal score does not beat the champion
    assert again.decision is not None and again.decision.outcome is Outcome.KEEP
    assert "does not beat champion 1" in again.decision.reason
    assert again.decision.champion_value == pytest.approx(again.metrics["r2"])


@pytest.fixture
def churn_ws(postgresql_url: str, tmp_path: Path) -> Iterator[tuple[Workspace, str]]:
    table = f"churn_{uuid.uuid4().hex[:8]}"
    declaration = churn_training(
        "bank",
        table,
        params={"n_estimators": 60, "max_depth": 3, "learning_rate": 0.1, "random_state": 0},
        evaluation={"holdout": 0.25, "seed": 7},
    )
    ws = Workspace(
        make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'r.db'}",
            sources={"bank": {"url": postgresql_url}},
            trainings={"churn": declaration},
        )
    )
    yield ws, table
    ws.close()


def test_churn_pipeline_from_postgresql_loads_back_bit_identical(
    churn_ws: tuple[Workspace, str],
) -> None:
    ws, table = churn_ws
    ws.sources.demo_data("churn", "bank", 3000, table=table, seed=5)
    run = ws.trainings.run("churn")
    assert run.state is RunState.SUCCEEDED, run.error
    assert run.metrics["roc_auc"] >= 0.7 and run.decision is not None and run.decision.promote
    spec = ws.trainings.get("churn")
    frame = ws.sources.read("bank", table=table)
    x, y = frame.drop(columns=["Exited"]), frame["Exited"]
    split = holdout(x, y, spec.evaluation, classification=True)
    in_memory = build_estimator(spec, spec.params).fit(split.x_train, split.y_train)
    loaded: Any = ws.models.load("churn@champion")
    diff = np.abs(loaded.predict_proba(split.x_test) - in_memory.predict_proba(split.x_test))
    assert diff.max() == 0.0
    version = ws.models.get("churn")
    assert version.signature is not None
    geography = next(c for c in version.signature.inputs if c.name == "Geography")
    assert geography.categories == ("France", "Germany", "Spain")
    assert version.signature.output_kind.value == "probabilities"
