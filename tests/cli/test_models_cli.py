"""``modelyard models register`` of pickles: the flavour told by the class inside, the
registering process's packages recorded."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
import xgboost
from sklearn.linear_model import LinearRegression

from modelyard import Workspace
from tests.cli.test_cli import cli


def test_pickles_get_the_flavour_of_their_class_and_the_registering_packages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    assert cli(capsys, "init", str(root))[0] == 0
    x, y = np.arange(40.0).reshape(20, 2), np.array([0, 1] * 10)
    booster = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    (tmp_path / "xgb.pkl").write_bytes(pickle.dumps(booster))
    joblib.dump(booster, tmp_path / "xgb.joblib")
    (tmp_path / "linear.pkl").write_bytes(pickle.dumps(LinearRegression().fit(x, y)))
    register = ["--workspace", str(root), "models", "register", "--allow-pickle"]
    expected = {"xgb.pkl": "xgboost, pickle", "xgb.joblib": "xgboost, joblib"}
    expected["linear.pkl"] = "sklearn, pickle"
    for index, (file, label) in enumerate(expected.items(), start=1):
        code, out, err = cli(capsys, *register, str(tmp_path / file), "-n", "m")
        assert code == 0 and f"Registered m:{index} ({label}," in out, err
    with Workspace.from_config(root) as ws:
        for version in (1, 2):
            packages = ws.models.get("m", version=version).lineage["packages"]
            assert packages["xgboost"] == xgboost.__version__
            assert packages["scikit-learn"] == sklearn.__version__
            loaded = ws.models.load(f"m:{version}")
            assert isinstance(loaded, xgboost.XGBClassifier)
            assert (loaded.predict(x) == booster.predict(x)).all()
        assert isinstance(ws.models.load("m:3"), LinearRegression)
