"""Recording a packed artifact as the next version of a model, created on first use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.config.secret import redact_all
from modelyard.errors import Conflict
from modelyard.registry import aliases
from modelyard.registry.packing import Packed
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import EventKind, Signature, VersionStatus

m, v = schema.models, schema.model_versions


@dataclass(frozen=True)
class VersionInfo:
    """What is recorded beside a version's artifact."""

    signature: Signature | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] | None = None
    description: str = ""
    status: VersionStatus = VersionStatus.READY


def record(
    db: Database, name: str, packed: Packed, info: VersionInfo, allow_pickle: bool, actor: str
) -> int:
    """Insert the next version of ``name`` (creating the model) with its event; returns
    its number. Raises ``Conflict`` if the model is archived."""
    model_id = ensure_model(db, name, actor)

    def insert(conn: Connection) -> int:
        # Lock the model row so concurrent registrations number versions one by one.
        conn.execute(sa.select(m.c.id).where(m.c.id == model_id).with_for_update()).one()
        top = conn.execute(
            sa.select(sa.func.max(v.c.version)).where(v.c.model_id == model_id)
        ).scalar()
        number = int(top or 0) + 1
        conn.execute(
            sa.insert(v).values(
                model_id=model_id,
                version=number,
                status=info.status.value,
                flavour=packed.flavour.value,
                format=packed.format.value,
                sha256=packed.sha256,
                size=packed.size,
                files=packed.manifest.to_dict(),
                allow_pickle=allow_pickle,
                signature=info.signature.to_dict() if info.signature else None,
                metrics=dict(info.metrics),
                params=dict(info.params),
                tags=dict(info.tags),
                lineage=redact_all(dict(info.lineage)),  # immutable: no credential kept
                profile=dict(info.profile) if info.profile is not None else None,
                description=info.description,
                created_by=actor[:128],
                created_at=utcnow(),
            )
        )
        aliases.log(
            conn,
            model_id,
            EventKind.VERSION_REGISTERED,
            actor=actor,
            to_version=number,
            details={"sha256": packed.sha256, "allow_pickle": allow_pickle},
        )
        return number

    return db.write(insert, retry_conflicts=True)


def ensure_model(db: Database, name: str, actor: str) -> int:
    """The id of the model ``name``, created (with its event) if it does not exist yet;
    raises ``Conflict`` if it is archived."""

    def get_or_create(conn: Connection) -> int:
        found = conn.execute(sa.select(m.c.id, m.c.archived).where(m.c.name == name)).first()
        if found is not None:
            if found.archived:
                raise Conflict(f"model {name!r} is archived: restore it or pick another name")
            return int(found.id)
        key = conn.execute(
            sa.insert(m).values(name=name, description="", archived=False, created_at=utcnow())
        ).inserted_primary_key
        assert key is not None
        aliases.log(conn, int(key[0]), EventKind.MODEL_CREATED, actor=actor)
        return int(key[0])

    return db.write(get_or_create, retry_conflicts=True)
