"""The one safe loader: hashes before bytes, skops allow-list from settings, pickle by consent."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import sqlalchemy as sa
import xgboost as xgb
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelyard import Workspace
from modelyard.errors import HashMismatch, PickleNotAllowed, UntrustedTypes
from modelyard.storage import schema
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo


class MarkerPickle:
    """Unpickling this runs a shell command that creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def _blob(ws: Workspace, sha256: str) -> Path:
    path = Path(ws.store.blob_path(sha256))
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("damage", ["flip", "truncate", "replace"])
def test_a_tampered_artifact_is_refused_naming_file_and_hashes(
    sqlite_workspace: Workspace, damage: str
) -> None:
    est, _frame = fitted_immo()
    version = sqlite_workspace.models.register("immo", est)
    blob = _blob(sqlite_workspace, version.sha256)
    data = bytearray(blob.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) - 10]
    else:
        other, _ = fitted_immo(seed=1)
        data = bytearray(sio.dumps(other))
    blob.write_bytes(bytes(data))
    with pytest.raises(HashMismatch) as info:
        sqlite_workspace.models.load("immo:1")
    message = str(info.value)
    assert "immo:1 file 'model.skops'" in message
    assert f"expected sha256 {version.sha256}" in message
    assert (
        info.value.details["actual"] in message and info.value.details["actual"] != version.sha256
    )
    assert not sqlite_workspace.doctor().ok


def test_a_loaded_version_predicts_like_the_original(sqlite_workspace: Workspace) -> None:
    est, frame = fitted_immo()
    sqlite_workspace.models.register("immo", est)
    loaded = sqlite_workspace.models.load("immo:1")
    assert np.array_equal(loaded.predict(frame), est.predict(frame))  # type: ignore[attr-defined]


def test_skops_types_outside_the_allow_list_are_refused_by_name(tmp_path: Path) -> None:
    # A pipeline whose FunctionTransformer calls os.system: the classic skops attack shape.
    evil = make_pipeline(FunctionTransformer(os.system), StandardScaler())
    path = tmp_path / "evil.skops"
    sio.dump(evil, path)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    default = Workspace(make_settings(tmp_path, url))
    with pytest.raises(UntrustedTypes, match=r"posix\.system") as info:
        default.models.register("evil", path)
    assert "posix.system" in info.value.details["types"]
    # A workspace that trusts more may register it; the default one still refuses to load it,
    # because the allow-list comes from settings, never from the artifact.
    trusting = Workspace(
        make_settings(
            tmp_path, url, security={"skops_trusted": ["sklearn.*", "numpy.*", "posix.*"]}
        )
    )
    trusting.models.register("evil", path)
    with pytest.raises(UntrustedTypes, match=r"evil:1 file 'evil.skops' contains .*posix\.system"):
        default.models.load("evil:1")
    default.close()
    trusting.close()


def test_a_marker_pickle_never_runs_through_any_refused_path(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    marker = tmp_path / "MARKER"
    evil = pickle.dumps(MarkerPickle(marker))
    est, _ = fitted_immo()
    for name in ("evil.pkl", "evil.joblib", "model.skops", "model.json"):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(evil)
        with pytest.raises(PickleNotAllowed, match=name):
            ws.models.register("evil", path)

    # Allowed once, then swapped for the evil bytes: the hash check refuses it.
    benign = tmp_path / "benign.pkl"
    benign.write_bytes(pickle.dumps(est))
    allowed = ws.models.register("immo", benign, allow_pickle=True)
    _blob(ws, allowed.sha256).write_bytes(evil)
    with pytest.raises(HashMismatch):
        ws.models.load("immo:1")

    # A row edited to look registered without consent is refused before reading bytes.
    honest = tmp_path / "evil2.pkl"
    honest.write_bytes(evil)
    forged = ws.models.register("forged", honest, allow_pickle=True)
    with ws.db.engine.begin() as conn:
        conn.execute(
            sa.update(schema.model_versions)
            .where(schema.model_versions.c.sha256 == forged.sha256)
            .values(allow_pickle=False)
        )
    with pytest.raises(PickleNotAllowed, match="registered without allow_pickle"):
        ws.models.load("forged:1")

    # In a folder of plain files the pickle is stored and handed out, never unpickled.
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "evil.pkl").write_bytes(evil)
    (folder / "notes.txt").write_text("x")
    ws.models.register("bundle", folder, flavour="files")
    ws.models.load("bundle:1")
    ws.models.download("bundle:1", tmp_path / "out")
    assert not marker.exists()


def test_an_admin_approved_pickle_loads_while_its_bytes_match(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    est, frame = fitted_immo()
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(est))
    version = sqlite_workspace.models.register("immo", path, allow_pickle=True)
    assert version.allow_pickle and version.format.value == "pickle"
    loaded = sqlite_workspace.models.load("immo:1")
    assert np.array_equal(loaded.predict(frame), est.predict(frame))  # type: ignore[attr-defined]


def test_xgboost_models_round_trip_through_their_own_json(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(features, labels)
    version = sqlite_workspace.models.register("churn", model)
    assert (version.flavour.value, version.format.value) == ("xgboost", "xgboost-json")
    loaded = sqlite_workspace.models.load("churn:1")
    assert isinstance(loaded, xgb.XGBClassifier)
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))

    model.save_model(tmp_path / "booster.json")
    booster_version = sqlite_workspace.models.register("booster", tmp_path / "booster.json")
    booster = sqlite_workspace.models.load(booster_version.ref)
    assert isinstance(booster, xgb.Booster)
    margin = booster.predict(xgb.DMatrix(features))
    assert np.allclose(margin, model.predict_proba(features)[:, 1])
