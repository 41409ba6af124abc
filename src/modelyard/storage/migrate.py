"""Schema migrations: opening a workspace upgrades its registry database to the head.

Several processes may open the same fresh workspace at once, so the upgrade
runs under a lock: a PostgreSQL advisory lock, a MariaDB named lock, or a
file lock beside the SQLite database.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from modelyard.storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_310_451_772  # arbitrary, constant: "modelyard schema"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    return db.read(read)


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest); a no-op when already there."""
    target = head_revision() if revision == "head" else revision
    if current_revision(db) == target:
        return
    with _schema_lock(db), db.connect(write=True) as conn:
        cfg = _config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@contextmanager
def _schema_lock(db: Database) -> Iterator[None]:
    if db.dialect == "sqlite":
        path = db.engine.url.database
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_KEY})")
            release = f"SELECT pg_advisory_unlock({_LOCK_KEY})"
        else:
            conn.exec_driver_sql("SELECT GET_LOCK('modelyard_schema', 120)")
            release = "SELECT RELEASE_LOCK('modelyard_schema')"
        try:
            yield
        finally:
            conn.exec_driver_sql(release)
            conn.commit()
