"""The app root of an entry-script deployment is laid out exactly as Azure ML lays out a
container, from verified bytes only."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.deployments.entry.layout import MODELS_DIR, lay_out
from modelyard.deployments.entry.spec import ScriptSpec
from modelyard.errors import HashMismatch, PickleNotAllowed
from modelyard.registry.records import FileEntry
from modelyard.storage.artifacts import sha256_file


def _spec(ws: Workspace, tmp_path: Path, *models: str) -> ScriptSpec:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    info = ws.store.put_file(script)
    return ScriptSpec("score.py", (FileEntry("score.py", info.sha256, info.size),), models)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws")


def _pickle(path: Path, value: object) -> Path:
    path.write_bytes(pickle.dumps(value))
    return path


def test_two_models_keep_their_file_names_and_model_dir_is_the_models_folder(
    ws: Workspace, tmp_path: Path
) -> None:
    a = ws.models.register(
        "pipeline_processing", _pickle(tmp_path / "pipeline_processing.pkl", 1), allow_pickle=True
    )
    b = ws.models.register("modelML2", _pickle(tmp_path / "modelML2.pkl", 2), allow_pickle=True)
    app = lay_out(tmp_path / "root", _spec(ws, tmp_path, a.ref, b.ref), ws.registry)
    models = app.path / MODELS_DIR
    assert (models / "pipeline_processing" / "1" / "pipeline_processing.pkl").read_bytes() == (
        tmp_path / "pipeline_processing.pkl"
    ).read_bytes()
    assert sorted(p.name for p in (models / "modelML2" / "1").iterdir()) == ["modelML2.pkl"]
    assert app.model_dir == models  # several models: AZUREML_MODEL_DIR is the models folder
    assert app.entry_script == app.path / "score.py" and app.entry_script.is_file()


def test_one_model_gives_its_version_folder_and_a_folder_keeps_its_name(
    ws: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.txt").write_text("weights")
    (folder / "sub" / "vocab.txt").write_text("a b c")
    version = ws.models.register("folderm", folder, flavour="files")
    app = lay_out(tmp_path / "root", _spec(ws, tmp_path, version.ref), ws.registry)
    assert app.model_dir == app.path / MODELS_DIR / "folderm" / "1"
    assert [p.name for p in app.model_dir.iterdir()] == ["outputs"]  # exactly one entry
    assert (app.model_dir / "outputs" / "sub" / "vocab.txt").read_text() == "a b c"


def test_a_pickle_registered_without_allow_pickle_is_never_handed_to_a_script(
    ws: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    _pickle(folder / "model.pkl", {"evil": True})
    (folder / "notes.txt").write_text("x")
    version = ws.models.register("bundle", folder, flavour="files")  # files: no pickle check
    with pytest.raises(PickleNotAllowed, match="allow_pickle"):
        lay_out(tmp_path / "root", _spec(ws, tmp_path, version.ref), ws.registry)
    assert not (tmp_path / "root").exists()


def test_a_tampered_artifact_is_refused_before_any_byte_is_written(
    ws: Workspace, tmp_path: Path
) -> None:
    version = ws.models.register("m", _pickle(tmp_path / "m.pkl", 3), allow_pickle=True)
    blob = Path(ws.store.blob_path(version.sha256))
    blob.chmod(0o644)
    blob.write_bytes(pickle.dumps(4))
    assert sha256_file(blob).sha256 != version.sha256
    with pytest.raises(HashMismatch, match="expected sha256"):
        lay_out(tmp_path / "root", _spec(ws, tmp_path, version.ref), ws.registry)
    assert not (tmp_path / "root").exists()


def test_a_complete_root_is_reused(ws: Workspace, tmp_path: Path) -> None:
    version = ws.models.register("m", _pickle(tmp_path / "m.pkl", 5), allow_pickle=True)
    spec = _spec(ws, tmp_path, version.ref)
    first = lay_out(tmp_path / "root", spec, ws.registry)
    marker = first.path / "score.py"
    stamp = marker.stat().st_mtime_ns
    second = lay_out(tmp_path / "root", spec, ws.registry)
    assert second.path == first.path and marker.stat().st_mtime_ns == stamp
