"""Schema migrations: opening a workspace upgrades its registry database to the head.

Several processes may open the same fresh workspace at once, so the upgrade
runs under a lock: a PostgreSQL advisory lock, a MariaDB named lock, or a
file lock beside the SQLite database.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.storage.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_310_451_772  # arbitrary, constant: "modelyard schema"


def _config() -> Config:
    # Alembic is imported only to migrate: opening an up-to-date workspace does not need it
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


_REVISION = re.compile(r"^(down_)?revision\s*=\s*(?:\"([^\"]*)\"|None)", re.M)


@cache
def head_revision() -> str:
    """The newest migration this code knows: the one no other migration follows, read from
    the files' ``revision``/``down_revision`` lines (without importing Alembic)."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (followed if down else revisions).add(value)
    heads = revisions - followed
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: {sorted(heads)}"
    return str(heads.pop())


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def read(conn: Connection) -> str | None:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return None if value is None else str(value)

    return db.read(read)


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest); a no-op when already there."""
    target = head_revision() if revision == "head" else revision
    if current_revision(db) == target:
        return
    from alembic import command

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
