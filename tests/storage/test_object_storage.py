"""Artifacts on S3 (moto's server) and Azure Blob (Azurite): replicas read each blob once
through the local cache; credentials come from the settings or the environment and are
never printed, not even when the store refuses them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import skops.io

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.errors import ArtifactMissing, ArtifactStoreUnavailable
from modelyard.storage.artifacts import ArtifactStore
from tests.cli.test_cli import cli
from tests.helpers.models import fitted_immo
from tests.helpers.object_storage import AZURITE_KEY, S3_SECRET, ObjectStore

KINDS = ["s3", "azure"]
SECRETS = (S3_SECRET, AZURITE_KEY, AZURITE_KEY[:20])


def _server(request: pytest.FixtureRequest, kind: str) -> ObjectStore:
    server: ObjectStore = request.getfixturevalue(f"{kind}_store")
    return server


def _settings(root: Path, location: str, options: dict[str, object]) -> Settings:
    registry = {
        "database_url": f"sqlite:///{root / 'registry.db'}",
        "artifacts": location,
        "storage_options": options,
    }
    return Settings.from_mapping({"registry": registry}, root=root, env={})


@pytest.mark.parametrize("kind", KINDS)
def test_replicas_read_each_blob_once_through_the_local_cache(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    server = _server(request, kind)
    location = server.new_location()
    settings = _settings(tmp_path, location, server.options)
    est, frame = fitted_immo()
    with Workspace(settings) as trainer:
        version = trainer.models.register("immo", est, input_example=frame)
    cache = tmp_path / "shared-cache"
    with Workspace(replace(settings, artifact_cache=cache)) as first:
        first.models.load("immo:1")  # downloaded once, kept under its sha256
    copy = cache / version.sha256[:2] / version.sha256
    blob = copy.read_bytes()
    key = first.store.blob_path(version.sha256).split("/", 1)[1]
    assert first.store.read_bytes(version.sha256) == blob

    copy.write_bytes(b"a disk error")  # a bad copy is dropped, and read from the store again
    server.delete(location, key)
    with Workspace(replace(settings, artifact_cache=cache)) as second:
        with pytest.raises(ArtifactMissing, match=version.sha256):
            second.models.load("immo:1")
        assert not copy.exists()
        second.store.put_bytes(blob)  # back in the store
        second.models.load("immo:1")
    assert copy.read_bytes() == blob
    server.delete(location, key)
    with Workspace(replace(settings, artifact_cache=cache)) as fourth:
        fourth.models.load("immo:1")  # served from this machine's copy: not downloaded
        report = fourth.doctor()  # doctor reads the store itself
    assert [f.message for f in report.findings if f.severity == "problem"] == [
        f"blob {version.sha256} is missing"
    ]


def test_credentials_from_the_settings_are_never_shown(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = _server(request, "azure")
    location = server.new_location()
    (tmp_path / "modelyard.toml").write_text(
        f'[registry]\nartifacts = "{location}"\n'
        '[registry.storage_options]\nconnection_string = "${AZ_CONNECTION}"\n'
    )
    env = {"AZ_CONNECTION": server.options["connection_string"]}
    settings = Settings.load(tmp_path / "modelyard.toml", env)
    assert settings.storage_options.reveal() == server.options
    shown = f"{settings!r} {settings.storage_options}"
    assert "connection_string=***" in shown and AZURITE_KEY[:20] not in shown

    wrong = server.options["connection_string"].replace(AZURITE_KEY, "A" * 86 + "==")
    refused = Settings.load(tmp_path / "modelyard.toml", {"AZ_CONNECTION": wrong})
    store = ArtifactStore(location, options=refused.storage_options)
    with pytest.raises(ArtifactStoreUnavailable) as info:
        store.put_bytes(b"model bytes")
    message = str(info.value)
    assert "AAAAAAAAAA" not in message
    assert "credentials" in message and info.value.code == "artifact_store_unavailable"


def test_an_unknown_bucket_and_a_missing_driver_are_clear(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = _server(request, "s3")
    settings = _settings(tmp_path, "s3://no-such-bucket/registry", server.options)
    with Workspace(settings) as ws, pytest.raises(ArtifactStoreUnavailable) as info:
        ws.models.register("immo", fitted_immo()[0])
    assert "does not exist: create its bucket" in str(info.value)
    assert S3_SECRET not in str(info.value)
    with pytest.raises(ArtifactStoreUnavailable, match="driver"):
        ArtifactStore("gs://bucket/registry")


@pytest.mark.parametrize("kind", KINDS)
def test_credentials_from_the_environment_are_the_drivers_own(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _server(request, kind)
    for name, value in server.environment.items():
        monkeypatch.setenv(name, value)
    settings = _settings(tmp_path, server.new_location(), {})  # no storage options
    est, frame = fitted_immo()
    with Workspace(settings) as ws:
        ws.models.register("immo", est, input_example=frame)
        assert (ws.models.load("immo:1").predict(frame) == est.predict(frame)).all()
        assert ws.doctor().ok


def test_the_cli_never_prints_credentials_even_when_the_store_refuses_them(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = _server(request, "azure")  # Azurite checks the account key (moto takes any)
    (tmp_path / "modelyard.toml").write_text(f'[registry]\nartifacts = "{server.new_location()}"\n')
    model = tmp_path / "immo.skops"
    skops.io.dump(fitted_immo()[0], model)
    connection = server.environment["AZURE_STORAGE_CONNECTION_STRING"]
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    workspace = ("--workspace", str(tmp_path))
    code, out, err = cli(capsys, *workspace, "models", "register", str(model), "--name", "immo")
    assert code == 0, out + err
    printed = out + err
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", connection.replace(AZURITE_KEY, "B" * 86 + "==")
    )
    code, out, err = cli(capsys, *workspace, "doctor")
    assert code != 0 and "artifact_store_unavailable" in err
    assert "Traceback" not in err and "BBBBBBBBBB" not in out + err
    assert not any(secret in printed + out + err for secret in SECRETS)
