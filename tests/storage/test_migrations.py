"""Opening an older workspace upgrades its registry schema, keeping its data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from modelyard import Workspace
from modelyard.config.secret import SecretURL
from modelyard.storage.engine import Database
from modelyard.storage.migrate import current_revision, head_revision, upgrade
from modelyard.storage.schema import metadata
from tests.conftest import TABLES, make_settings


def test_an_older_schema_is_upgraded_on_open_and_keeps_its_models(
    db_url: str, tmp_path: Path
) -> None:
    db = Database(SecretURL(db_url))
    with db.engine.begin() as conn:  # a previous test on this server may have left tables
        for table in (*TABLES, "alembic_version"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    upgrade(db, "0001")
    assert current_revision(db) == "0001"
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO models (name, description, archived, created_at) "
                "VALUES ('legacy', '', :f, :now)"
            ),
            {"f": False, "now": now},
        )
        assert "events" not in sa.inspect(conn).get_table_names()
    db.dispose()

    with Workspace(make_settings(tmp_path, db_url)) as ws:
        assert current_revision(ws.db) == head_revision()
        assert [m.name for m in ws.models.list()] == ["legacy"]
        assert ws.models.history("legacy") == []


def test_opening_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    Workspace(make_settings(tmp_path, url)).close()
    with Workspace(make_settings(tmp_path, url)) as ws:
        assert current_revision(ws.db) == head_revision()


def test_the_migrations_build_exactly_the_declared_schema(db_url: str, tmp_path: Path) -> None:
    with Workspace(make_settings(tmp_path, db_url)) as ws, ws.db.engine.connect() as conn:
        # other tests' tables may share this server database: compare ours only
        ours = {table.name for table in metadata.sorted_tables}
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": False,
                "include_name": lambda name, kind, _parent: kind != "table" or name in ours,
            },
        )
        assert compare_metadata(context, metadata) == []
