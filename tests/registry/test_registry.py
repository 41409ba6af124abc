"""Models, versions, aliases and events, on SQLite, PostgreSQL and MariaDB, with the
artifacts in a folder, on S3 (moto's server) and on Azure Blob (Azurite): register, load,
download, doctor and entry-script layouts work the same on each, and a blob changed
behind the registry's back is refused by its sha256 on each."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard import Workspace
from modelyard.deployments.entry.layout import MODELS_DIR, lay_out
from modelyard.deployments.entry.spec import ScriptSpec
from modelyard.errors import (
    AliasMoved,
    AliasNotFound,
    Conflict,
    HashMismatch,
    ModelNotFound,
    NothingToRollBack,
    SignatureChanged,
    VersionNotFound,
)
from modelyard.registry.records import FileEntry
from modelyard.types import EventKind, VersionStatus
from tests.conftest import backend_url, make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.object_storage import ObjectStore

# Every database with a folder; object storage on the databases it is used with most.
PLACES = [
    ("sqlite", "folder"),
    ("postgresql", "folder"),
    ("mariadb", "folder"),
    ("postgresql", "s3"),
    ("sqlite", "azure"),
]


@dataclass(frozen=True)
class Place:
    """Where a test's artifacts live: the URI, and the object-storage server if any."""

    artifacts: str
    server: ObjectStore | None = field(repr=False)  # its options hold credentials


@pytest.fixture(params=PLACES, ids=[f"{db}-{store}" for db, store in PLACES])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Place]:
    backend, store = request.param
    url = backend_url(request, backend, tmp_path)
    if store == "folder":
        return url, Place(str(tmp_path / "artifacts"), None)
    server: ObjectStore = request.getfixturevalue(f"{store}_store")
    return url, Place(server.new_location(), server)


@pytest.fixture
def workspace(tmp_path: Path, place: tuple[str, Place]) -> Iterator[Workspace]:
    url, where = place
    options = where.server.options if where.server is not None else {}
    store = {"artifacts": where.artifacts, "storage_options": options}
    ws = Workspace(make_settings(tmp_path / "ws", url, store=store))
    yield ws
    ws.close()


def test_versions_count_up_per_model_and_record_what_was_given(workspace: Workspace) -> None:
    est, frame = fitted_immo()
    first = workspace.models.register(
        "immo", est, input_example=frame, metrics={"r2": 0.93}, tags={"team": "data"}
    )
    second = workspace.models.register("immo", est, input_example=frame)
    other = workspace.models.register("churn", est)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    got = workspace.models.get("immo", version=1)
    assert got.metrics == {"r2": 0.93} and got.tags == {"team": "data"}
    assert got.signature is not None and got.signature.names == ["surface"]
    assert got.signature.inputs[0].dtype == "float64"
    assert got.status is VersionStatus.READY and got.format.value == "skops"
    assert [m.name for m in workspace.models.list()] == ["churn", "immo"]


def test_champion_follows_promotions_and_rollback_returns_to_the_previous(
    workspace: Workspace,
) -> None:
    est, frame = fitted_immo()
    for _ in range(3):
        workspace.models.register("immo", est, input_example=frame)
    with pytest.raises(AliasNotFound, match="promote one"):
        workspace.models.get("immo")
    workspace.models.promote("immo", 1, reason="first")
    workspace.models.promote("immo", 3)
    assert workspace.models.get("immo").version == 3
    assert workspace.models.resolve("immo@champion").aliases == ("champion",)
    event = workspace.models.rollback("immo")
    assert (event.from_version, event.to_version) == (3, 1)
    assert workspace.models.get("immo").version == 1
    with pytest.raises(NothingToRollBack):
        workspace.models.rollback("immo")
    moves = [
        (e.kind, e.from_version, e.to_version)
        for e in workspace.models.history("immo", alias="champion")
    ]
    assert moves == [
        (EventKind.PROMOTED, None, 1),
        (EventKind.PROMOTED, 1, 3),
        (EventKind.ROLLED_BACK, 3, 1),
    ]
    assert workspace.models.history("immo")[0].kind is EventKind.MODEL_CREATED


def test_promoting_the_current_champion_changes_nothing(workspace: Workspace) -> None:
    est, _ = fitted_immo()
    workspace.models.register("immo", est)
    assert workspace.models.promote("immo", 1) is not None
    assert workspace.models.promote("immo", 1) is None
    assert len(workspace.models.history("immo", alias="champion")) == 1


def test_compare_and_swap_refuses_a_stale_expectation(workspace: Workspace) -> None:
    est, _ = fitted_immo()
    for _ in range(3):
        workspace.models.register("immo", est)
    workspace.models.promote("immo", 1)
    workspace.models.promote("immo", 2, expected=1)
    with pytest.raises(AliasMoved, match="expected version 1, found 2"):
        workspace.models.promote("immo", 3, expected=1)
    assert workspace.models.get("immo").version == 2


def test_breaking_signature_change_is_refused_unless_forced(workspace: Workspace) -> None:
    est, frame = fitted_immo()
    workspace.models.register("immo", est, input_example=frame.assign(rooms=3))
    workspace.models.promote("immo", 1)
    workspace.models.register("immo", est, input_example=frame)  # rooms removed
    workspace.models.register("immo", est, input_example=frame.assign(rooms=3, floor=1))
    with pytest.raises(SignatureChanged, match="removed: rooms"):
        workspace.models.promote("immo", 2)
    assert workspace.models.get("immo").version == 1
    workspace.models.promote("immo", 3)  # an added column does not break callers
    workspace.models.promote("immo", 2, force=True, reason="drop rooms")
    last = workspace.models.history("immo", alias="champion")[-1]
    assert last.details["forced_signature_change"].startswith("removed: rooms, floor")


def test_retyped_column_is_breaking(workspace: Workspace) -> None:
    est, frame = fitted_immo()
    workspace.models.register("immo", est, input_example=frame)
    workspace.models.register("immo", est, input_example=frame.astype({"surface": "int64"}))
    workspace.models.promote("immo", 1)
    with pytest.raises(SignatureChanged, match="retyped: surface float64 -> int64"):
        workspace.models.promote("immo", 2)


def test_unknown_names_and_versions_are_clear(workspace: Workspace) -> None:
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        workspace.models.get("nope")
    est, _ = fitted_immo()
    workspace.models.register("immo", est)
    with pytest.raises(VersionNotFound, match="no version 9"):
        workspace.models.promote("immo", 9)


def test_archived_versions_cannot_be_promoted_and_champions_cannot_be_archived(
    workspace: Workspace,
) -> None:
    est, _ = fitted_immo()
    workspace.models.register("immo", est)
    workspace.models.register("immo", est)
    workspace.models.promote("immo", 1)
    with pytest.raises(Conflict, match="champion"):
        workspace.models.archive("immo", 1)
    workspace.models.archive("immo", 2)
    assert workspace.models.get("immo", version=2).status is VersionStatus.ARCHIVED
    with pytest.raises(Conflict, match="archived"):
        workspace.models.promote("immo", 2)


def test_concurrent_registrations_get_distinct_consecutive_numbers(workspace: Workspace) -> None:
    est, _ = fitted_immo()
    workspace.models.register("immo", est)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(3):
                numbers.append(workspace.models.register("immo", est).version)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(2, 14))


def test_download_writes_the_verified_files(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "vocab").mkdir(parents=True)
    (folder / "vocab" / "words.txt").write_text("a\nb\n")
    (folder / "README").write_text("hello")
    version = workspace.models.register("bundle", folder)
    assert version.flavour.value == "files"
    assert [f.name for f in version.manifest.files] == ["README", "vocab/words.txt"]
    out = workspace.models.download("bundle:1", tmp_path / "out")
    assert (out / "vocab" / "words.txt").read_text() == "a\nb\n"
    loaded = workspace.models.load("bundle:1")
    assert isinstance(loaded, Path) and (loaded / "README").read_text() == "hello"


def test_signature_records_categories_and_nulls(workspace: Workspace) -> None:
    est, _ = fitted_immo()
    frame = pd.DataFrame(
        {"Geography": ["France", "Spain", None], "Age": [30, 40, 50], "Balance": [1.0, None, 2.0]}
    )
    version = workspace.models.register("churn", est, input_example=frame)
    assert version.signature is not None
    geo, age, balance = version.signature.inputs
    assert (geo.dtype, geo.categories, geo.nullable) == ("string", ("France", "Spain"), True)
    assert (age.dtype, age.nullable) == ("int64", False)
    assert (balance.dtype, balance.nullable) == ("float64", True)


def _tamper(ws: Workspace, where: Place, sha256: str) -> None:
    """Change a stored blob behind the registry's back."""
    path = ws.store.blob_path(sha256)
    if where.server is None:
        Path(path).chmod(0o644)
        Path(path).write_bytes(b"not the registered bytes")
    else:
        where.server.overwrite(where.artifacts, path.split("/", 1)[1], b"not the registered bytes")


def test_a_model_loads_and_predicts_and_doctor_finds_nothing_wrong(
    workspace: Workspace, place: tuple[str, Place]
) -> None:
    est, frame = fitted_immo()
    version = workspace.models.register("immo", est, input_example=frame)
    workspace.models.promote("immo", version.version)
    loaded = workspace.models.load("immo@champion")
    assert np.allclose(loaded.predict(frame), est.predict(frame))
    assert workspace.store.exists(version.sha256)
    report = workspace.doctor()
    assert report.ok and (report.versions_checked, report.blobs_checked) == (1, 1)
    assert list(workspace.store.iter_blobs()) == [version.sha256]


def test_an_entry_script_layout_is_written_from_verified_bytes(
    workspace: Workspace, tmp_path: Path
) -> None:
    est, _ = fitted_immo()
    version = workspace.models.register("immo", est)
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    info = workspace.store.put_file(script)
    spec = ScriptSpec("score.py", (FileEntry("score.py", info.sha256, info.size),), (version.ref,))
    app = lay_out(tmp_path / "root", spec, workspace.registry)
    assert app.entry_script.read_text() == script.read_text()
    (stored,) = version.manifest.files
    laid = app.path / MODELS_DIR / "immo" / "1" / stored.name
    assert laid == app.model_dir / stored.name and laid.stat().st_size == stored.size


def test_a_tampered_blob_is_refused_by_its_sha256(
    workspace: Workspace, place: tuple[str, Place], tmp_path: Path
) -> None:
    est, frame = fitted_immo()
    version = workspace.models.register("immo", est, input_example=frame)
    _tamper(workspace, place[1], version.sha256)
    # Another machine: nothing cached there (this one keeps the bytes it verified).
    elsewhere = replace(workspace.settings, artifact_cache=tmp_path / "elsewhere")
    with Workspace(elsewhere) as replica:
        for attempt in range(2):  # refused again: refused bytes are never cached
            with pytest.raises(HashMismatch, match=version.sha256):
                replica.models.load("immo:1")
            with pytest.raises(HashMismatch):
                replica.models.download("immo:1", tmp_path / f"out{attempt}")
        report = replica.doctor()
    assert not report.ok
    assert [f.message for f in report.findings if f.severity == "problem"] == [
        f"expected sha256 {version.sha256}, actual "
        + hashlib.sha256(b"not the registered bytes").hexdigest()
    ]
