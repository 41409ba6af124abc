"""Finding models, versions and events inside a transaction; a miss raises the
not-found error that tells the caller what exists."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import ModelNotFound, VersionNotFound
from modelyard.registry.records import Event, Model
from modelyard.registry.rows import event_from_row
from modelyard.storage import schema
from modelyard.storage.engine import Database

m, v, al, ev = schema.models, schema.model_versions, schema.aliases, schema.events


def model_id(conn: Connection, name: str) -> int:
    """The id of the model called ``name``; raises ``ModelNotFound``."""
    found = conn.execute(sa.select(m.c.id).where(m.c.name == name)).scalar()
    if found is None:
        raise ModelNotFound(
            f"no model named {name!r}: `modelyard models list` shows the models", model=name
        )
    return int(found)


def aliases_of(conn: Connection, model_id: int) -> dict[int, tuple[str, ...]]:
    """The aliases pointing at each version of a model, by version, names sorted."""
    out: dict[int, list[str]] = {}
    for row in conn.execute(
        sa.select(al.c.alias, al.c.version).where(al.c.model_id == model_id).order_by(al.c.alias)
    ):
        out.setdefault(int(row.version), []).append(row.alias)
    return {k: tuple(names) for k, names in out.items()}


def aliases_text(pointed: Mapping[int, tuple[str, ...]]) -> str:
    """``champion=3, staging=4``: the aliases of :func:`aliases_of` for a message."""
    return ", ".join(f"{a}={n}" for n, names in pointed.items() for a in names)


def version_row(conn: Connection, model_id: int, name: str, version: int) -> RowMapping:
    """The ``model_versions`` row of ``name:version``; raises ``VersionNotFound``."""
    row = (
        conn.execute(sa.select(v).where(v.c.model_id == model_id, v.c.version == version))
        .mappings()
        .first()
    )
    if row is None:
        raise VersionNotFound(f"model {name!r} has no version {version}", version=version)
    return row


def model_from_row(conn: Connection, row: RowMapping) -> Model:
    """Build a :class:`Model` from a ``models`` row, with its latest version and aliases."""
    latest = conn.execute(
        sa.select(sa.func.max(v.c.version)).where(v.c.model_id == row["id"])
    ).scalar()
    pointers = conn.execute(
        sa.select(al.c.alias, al.c.version).where(al.c.model_id == row["id"])
    ).all()
    return Model(
        name=row["name"],
        description=row["description"] or "",
        archived=bool(row["archived"]),
        created_at=row["created_at"],
        latest_version=int(latest) if latest is not None else None,
        aliases={p.alias: int(p.version) for p in pointers},
    )


def event(db: Database, name: str, event_id: int) -> Event:
    """The event ``event_id`` of model ``name``, read in its own transaction."""

    def read(conn: Connection) -> Event:
        row = conn.execute(sa.select(ev).where(ev.c.id == event_id)).mappings().one()
        return event_from_row(row, name)

    return db.read(read)
