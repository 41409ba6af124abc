"""Shared fixtures: a fresh database per test session on each real server, and workspaces.

PostgreSQL and MariaDB tests run against the servers on loopback. Outside CI a
missing server skips its tests; with ``CI=true`` it is a failure.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.storage.schema import metadata
from tests.helpers import figures
from tests.helpers.object_storage import ObjectStore, azurite_server, moto_server

PG_ADMIN_URL = os.environ.get(
    "MODELYARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIA_ADMIN_URL = os.environ.get("MODELYARD_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/")
IN_CI = os.environ.get("CI", "").lower() == "true"
os.environ.setdefault("COLUMNS", "200")  # Rich tables in CLI tests are not cut at 80 columns
BACKENDS = ("sqlite", "postgresql", "mariadb")
# Every registry table, dependants first (the order in which they can be emptied or dropped).
TABLES = tuple(t.name for t in reversed(metadata.sorted_tables))


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing database server is a failure)")
    pytest.skip(message)


def _server_database(admin_url: str, what: str) -> Iterator[str]:
    name = f"modelyard_t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # any driver or network error means "no server here"
        engine.dispose()
        _unavailable(what, exc)
    url = sa.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A PostgreSQL database created for this test session and dropped after."""
    yield from _server_database(PG_ADMIN_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A MariaDB database created for this test session and dropped after."""
    yield from _server_database(MARIA_ADMIN_URL, "MariaDB")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The registry URL of one backend, emptied for this test."""
    return backend_url(request, request.param, tmp_path)


def backend_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """The registry URL of ``backend`` (sqlite, postgresql, mariadb), emptied for this test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue(f"{backend}_url")
    _empty(url)
    return url


def _object_store(
    start: Callable[[Path], AbstractContextManager[ObjectStore]], folder: Path, what: str
) -> Iterator[ObjectStore]:
    server = start(folder)
    try:
        store = server.__enter__()
    except (OSError, RuntimeError) as exc:
        _unavailable(what, exc)
    try:
        yield store
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """moto's S3 server, started for this test session."""
    yield from _object_store(moto_server, tmp_path_factory.mktemp("moto"), "moto's S3 server")


@pytest.fixture(scope="session")
def azure_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """Azurite's blob service, started for this test session."""
    yield from _object_store(azurite_server, tmp_path_factory.mktemp("azurite"), "Azurite")


def _empty(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            for table in TABLES:
                if table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def make_settings(
    root: Path, db_url: str, *, store: dict[str, object] | None = None, **extra: object
) -> Settings:
    """Settings for a workspace rooted at ``root`` on ``db_url``, its artifacts in a folder
    or as ``store`` says (``artifacts``, ``storage_options``)."""
    registry = {"database_url": db_url, "artifacts": str(root / "artifacts"), **(store or {})}
    return Settings.from_mapping({"registry": registry, **extra}, root=root, env={})


@pytest.fixture
def workspace(tmp_path: Path, db_url: str) -> Iterator[Workspace]:
    """A workspace on each of SQLite, PostgreSQL and MariaDB, with artifacts in tmp_path."""
    ws = Workspace(make_settings(tmp_path, db_url))
    yield ws
    ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on SQLite only, for tests that are not about the database."""
    ws = Workspace(make_settings(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}"))
    yield ws
    ws.close()


# -- the reliability battery's figures (tests/helpers/figures.py) --------------------------


def pytest_configure(config: pytest.Config) -> None:
    """The controlling process names the folder the battery's rows go to (its workers
    inherit it)."""
    if not hasattr(config, "workerinput") and figures.FOLDER_ENV not in os.environ:
        os.environ[figures.FOLDER_ENV] = tempfile.mkdtemp(prefix="modelyard-figures-")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the battery's table; ``MODELYARD_RELIABILITY_REPORT=PATH`` also writes it."""
    folder = os.environ.get(figures.FOLDER_ENV)
    found = figures.rows(Path(folder)) if folder else []
    if not found:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(figures.table(found))
    target = os.environ.get("MODELYARD_RELIABILITY_REPORT")
    if target:
        Path(target).write_text(figures.report(found))
        terminalreporter.write_line(f"written to {target}")
