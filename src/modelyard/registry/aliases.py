"""Aliases (``champion`` and friends): compare-and-swap moves, each with its event, in one
transaction. An alias is one row, so at every instant it names exactly one version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelyard.errors import AliasMoved, NothingToRollBack
from modelyard.storage import schema
from modelyard.storage.schema import utcnow
from modelyard.types import EventKind

UNSET: Any = object()


def current(
    conn: Connection, model_id: int, alias: str, *, lock: bool = False
) -> tuple[int, int] | None:
    """The (version, revision) an alias points at, or None; ``lock`` takes a row lock."""
    query = sa.select(schema.aliases.c.version, schema.aliases.c.revision).where(
        schema.aliases.c.model_id == model_id, schema.aliases.c.alias == alias
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return (int(row.version), int(row.revision)) if row else None


def move(
    conn: Connection,
    model_id: int,
    alias: str,
    version: int,
    *,
    kind: EventKind,
    actor: str,
    reason: str,
    details: Mapping[str, Any],
    expected: Any = UNSET,
) -> tuple[int | None, int]:
    """Point ``alias`` at ``version`` and log the event; returns (from_version, event id).

    With ``expected`` (a version or None), raises ``AliasMoved`` unless the alias
    still points there. The update is conditional on the revision read, so a
    concurrent move is detected even where row locks are not available.
    """
    found = current(conn, model_id, alias, lock=True)
    before = found[0] if found else None
    if expected is not UNSET and before != expected:
        raise AliasMoved(
            f"alias {alias!r} moved meanwhile: expected version {expected}, found {before}",
            expected=expected,
            found=before,
        )
    now = utcnow()
    if found is None:
        conn.execute(
            sa.insert(schema.aliases).values(
                model_id=model_id, alias=alias, version=version, revision=1, updated_at=now
            )
        )
    else:
        result = conn.execute(
            sa.update(schema.aliases)
            .where(
                schema.aliases.c.model_id == model_id,
                schema.aliases.c.alias == alias,
                schema.aliases.c.revision == found[1],
            )
            .values(version=version, revision=found[1] + 1, updated_at=now)
        )
        if result.rowcount != 1:
            raise AliasMoved(f"alias {alias!r} moved meanwhile", expected=before)
    event_id = log(
        conn,
        model_id,
        kind,
        alias=alias,
        from_version=before,
        to_version=version,
        actor=actor,
        reason=reason,
        details=details,
    )
    return before, event_id


def previous(conn: Connection, model_id: int, alias: str, version: int) -> int:
    """The version ``alias`` held before ``version`` was last promoted to it."""
    row = conn.execute(
        sa.select(schema.events.c.from_version)
        .where(
            schema.events.c.model_id == model_id,
            schema.events.c.alias == alias,
            schema.events.c.kind == EventKind.PROMOTED.value,
            schema.events.c.to_version == version,
        )
        .order_by(schema.events.c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.from_version is None:
        raise NothingToRollBack(
            f"alias {alias!r} has no earlier version to return to (it points at version {version}, "
            "its first)"
        )
    return int(row.from_version)


def log(
    conn: Connection,
    model_id: int,
    kind: EventKind,
    *,
    actor: str,
    alias: str | None = None,
    from_version: int | None = None,
    to_version: int | None = None,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one event; returns its id."""
    result = conn.execute(
        sa.insert(schema.events).values(
            model_id=model_id,
            kind=kind.value,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            actor=actor[:128],
            reason=reason,
            details=dict(details or {}),
            created_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
