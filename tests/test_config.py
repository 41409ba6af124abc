"""Settings from modelyard.toml, MODELYARD_* variables and ${VAR}; secrets that hide."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.config.locations import find_config
from modelyard.config.secret import Secret, SecretURL, redact
from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, StorageError, WorkspaceNotFound
from modelyard.storage.engine import Database

PASSWORD = "s3cr3t-Pa55"
URL = f"postgresql+psycopg://app:{PASSWORD}@db.example:5432/immo"


def test_database_url_prints_with_its_password_masked_everywhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = SecretURL(URL)
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", str([secret])]
    logging.getLogger("modelyard.test").warning("connecting to %s", secret)
    shown.append(caplog.text)
    for text in shown:
        assert PASSWORD not in text
    assert str(secret) == "postgresql+psycopg://app:***@db.example:5432/immo"
    assert secret.reveal() == URL


def test_plain_secret_never_shows_its_value() -> None:
    key = Secret("admin-key-123")
    assert "admin-key-123" not in f"{key} {key!r} {[key]}"
    assert key.reveal() == "admin-key-123"


def test_redact_scrubs_urls_and_known_secrets_from_foreign_messages() -> None:
    message = f'connection to "{URL}" failed; password {PASSWORD} rejected'
    cleaned = redact(message, SecretURL(URL))
    assert PASSWORD not in cleaned
    assert "app:***@db.example" in cleaned


def test_unreachable_database_error_hides_the_password() -> None:
    url = f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/immo?connect_timeout=2"
    db = Database(SecretURL(url))
    with pytest.raises(StorageError) as info:
        db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value.to_dict())
    assert "app:***@127.0.0.1:1/immo" in str(info.value)


def test_variables_in_the_file_are_expanded_and_env_overrides_win(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text(
        '[registry]\ndatabase_url = "postgresql+psycopg://app:${DB_PASSWORD}@db/x"\n'
        'artifacts = "${ART:-store}"\n'
    )
    settings = Settings.load(tmp_path / "modelyard.toml", env={"DB_PASSWORD": PASSWORD})
    assert settings.database_url.reveal() == f"postgresql+psycopg://app:{PASSWORD}@db/x"
    assert settings.artifacts == str(tmp_path.resolve() / "store")

    overridden = Settings.load(
        tmp_path / "modelyard.toml",
        env={"DB_PASSWORD": "x", "MODELYARD_DATABASE_URL": "sqlite:///other.db"},
    )
    assert overridden.database_url.reveal() == f"sqlite:///{tmp_path.resolve() / 'other.db'}"


def test_unset_variable_names_itself_and_where(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text('[registry]\ndatabase_url = "x://${NOPE}@h/d"\n')
    with pytest.raises(ConfigError, match=r"NOPE is not set in registry\.database_url"):
        Settings.load(tmp_path / "modelyard.toml", env={})


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text("[registry\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(tmp_path / "modelyard.toml", env={})


def test_defaults_resolve_inside_the_workspace_folder(tmp_path: Path) -> None:
    settings = Settings.from_mapping({}, root=tmp_path, env={})
    root = tmp_path.resolve()
    assert settings.database_url.reveal() == f"sqlite:///{root}/.modelyard/registry.db"
    assert settings.artifacts == f"{root}/.modelyard/artifacts"
    assert settings.skops_trusted == ("sklearn.*", "xgboost.*", "numpy.*", "scipy.sparse.*")


def test_from_config_walks_up_from_a_subfolder(tmp_path: Path) -> None:
    Workspace.init(tmp_path).close()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == (tmp_path / "modelyard.toml").resolve()
    with Workspace.from_config(deep) as ws:
        assert ws.settings.root == tmp_path.resolve()


def test_no_workspace_anywhere_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound, match="modelyard init"):
        find_config(tmp_path)


def test_object_storage_settings_name_the_cache_and_hide_the_options(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text(
        '[registry]\nartifacts = "s3://models/prod"\nartifact_cache = "blobs"\n'
        '[registry.storage_options]\nendpoint_url = "http://minio:9000"\n'
        'key = "AKIA-KEY"\nsecret = "${S3_SECRET}"\n'
        'client_kwargs = { region_name = "eu-west-3" }\n'
    )
    env = {"S3_SECRET": PASSWORD}
    settings = Settings.load(tmp_path / "modelyard.toml", env=env)
    assert settings.blob_cache == tmp_path / "blobs"
    assert settings.storage_options.reveal()["secret"] == PASSWORD
    shown = f"{settings!r} {settings.storage_options}"
    assert PASSWORD not in shown and "AKIA-KEY" not in shown and "secret=***" in shown
    message = redact(f"denied for AKIA-KEY/{PASSWORD} at http://minio:9000", None)
    scrubbed = redact(message, *settings.storage_options.secrets())
    assert scrubbed == "denied for ***/*** at http://minio:9000"

    moved = Settings.load(tmp_path / "modelyard.toml", env={**env, "MODELYARD_ARTIFACT_CACHE": "c"})
    assert moved.blob_cache == tmp_path / "c"
    folder = Settings.from_mapping({"registry": {"artifact_cache": "c"}}, tmp_path, env={})
    assert folder.blob_cache is None  # a folder is read in place
    with pytest.raises(ConfigError, match="storage_options must be a table"):
        Settings.from_mapping({"registry": {"storage_options": "key=x"}}, tmp_path, env={})
