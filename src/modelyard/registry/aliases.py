"""Aliases (``champion`` and friends): compare-and-swap moves, each with its event, in one
transaction. An alias is one row, so at every instant it names exactly one version.

Promotion, rollback and the approval hold each move an alias in one transaction, then
wait for the replicas to serve the move."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import (
    AliasMoved,
    AliasNotFound,
    Conflict,
    Forbidden,
    NothingToRollBack,
    SignatureChanged,
)
from modelyard.registry import lookup
from modelyard.registry.records import Event
from modelyard.storage import notifications, schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import EventKind, Signature, SignatureDiff, VersionStatus

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


v = schema.model_versions
SWAP_WAIT_S = 5.0  # how long a move waits for the replicas to serve it


def promote(
    db: Database,
    name: str,
    version: int,
    *,
    alias: str,
    actor: str,
    reason: str,
    force: bool,
    expected: Any,
    details: Mapping[str, Any] | None,
    wait_s: float,
) -> Event | None:
    """Point ``alias`` at ``version`` as :meth:`Registry.promote` documents; returns the
    event, or None if the alias already pointed there."""

    def apply(conn: Connection) -> notifications.Published | None:
        model_id = lookup.model_id(conn, name)
        target = lookup.version_row(conn, model_id, name, version)
        if target["status"] == VersionStatus.ARCHIVED.value:
            raise Conflict(f"{name}:{version} is archived: it cannot be promoted")
        if target["status"] == VersionStatus.REJECTED.value:
            raise Conflict(f"{name}:{version} was rejected: it cannot be promoted")
        if target["status"] == VersionStatus.PENDING_APPROVAL.value:
            raise Conflict(
                f"{name}:{version} awaits approval: "
                f"`modelyard models approve {name}:{version}` promotes it"
            )
        pointer = current(conn, model_id, alias, lock=True)
        if pointer is not None and pointer[0] == version and expected is UNSET:
            return None
        extra = dict(details or {})
        if pointer is not None:
            diff = signature_diff(conn, model_id, pointer[0], target)
            if diff is not None and diff.breaking:
                if not force:
                    raise SignatureChanged(
                        f"promoting {name}:{version} to {alias!r} would break callers of "
                        f"version {pointer[0]}: {diff.describe()}; "
                        "use --force to promote anyway",
                        diff=diff.describe(),
                    )
                extra["forced_signature_change"] = diff.describe()
        _, event_id = move(
            conn,
            model_id,
            alias,
            version,
            kind=EventKind.PROMOTED,
            actor=actor,
            reason=reason,
            details=extra,
            expected=expected,
        )
        return notifications.publish(conn, model_id, alias, version, event_id)

    event_id = run_move(db, apply, wait_s)
    return None if event_id is None else lookup.event(db, name, event_id)


def rollback(
    db: Database, name: str, *, alias: str, actor: str, reason: str, wait_s: float
) -> Event:
    """Return ``alias`` to the version it held before its current one was promoted, as
    :meth:`Registry.rollback` documents."""

    def apply(conn: Connection) -> notifications.Published:
        model_id = lookup.model_id(conn, name)
        pointer = current(conn, model_id, alias, lock=True)
        if pointer is None:
            raise AliasNotFound(f"model {name!r} has no {alias!r} version to roll back")
        target = previous(conn, model_id, alias, pointer[0])
        _, event_id = move(
            conn,
            model_id,
            alias,
            target,
            kind=EventKind.ROLLED_BACK,
            actor=actor,
            reason=reason or f"rollback of version {pointer[0]}",
            details={},
            expected=pointer[0],
        )
        return notifications.publish(conn, model_id, alias, target, event_id)

    event_id = run_move(db, apply, wait_s)
    assert event_id is not None
    return lookup.event(db, name, event_id)


def run_move(
    db: Database, move: Callable[[Connection], notifications.Published | None], wait_s: float
) -> int | None:
    """Run an alias move (returning what it published), then wait for the replicas to
    serve it; returns the event id, None for no move."""
    with notifications.Acks(db) as acks:
        moved = db.write(move, retry_conflicts=True)
        if moved is not None:
            acks.wait(moved, wait_s)
    return None if moved is None else moved.event


def mark_pending(db: Database, name: str, version: int) -> None:
    """Hold a version as pending approval; raises the not-found errors of :mod:`lookup`."""

    def write(conn: Connection) -> None:
        model_id = lookup.model_id(conn, name)
        lookup.version_row(conn, model_id, name, version)
        conn.execute(
            sa.update(v)
            .where(v.c.model_id == model_id, v.c.version == version)
            .values(status=VersionStatus.PENDING_APPROVAL.value)
        )

    db.write(write)


def release_pending(
    db: Database,
    name: str,
    version: int,
    *,
    actor: str,
    four_eyes: bool = False,
    rejected: str | None = None,
) -> None:
    """Decide on a pending version: make it ready (the first half of an approval, before its
    promotion) or, given a ``rejected`` reason, rejected with an event. Raises ``Conflict``
    if it is not pending approval, ``Forbidden`` if ``four_eyes`` and ``actor`` authored it."""

    def write(conn: Connection) -> None:
        model_id = lookup.model_id(conn, name)
        row = lookup.version_row(conn, model_id, name, version)
        if row["status"] != VersionStatus.PENDING_APPROVAL.value:
            raise Conflict(f"{name}:{version} is {row['status']}, not pending approval")
        if four_eyes and row["created_by"] == actor:
            raise Forbidden(
                f"four-eyes: {actor} authored {name}:{version} and cannot also "
                f"{'reject' if rejected is not None else 'approve'} it; another approver must",
                rule="four_eyes",
            )
        status = VersionStatus.READY if rejected is None else VersionStatus.REJECTED
        conn.execute(
            sa.update(v)
            .where(v.c.model_id == model_id, v.c.version == version)
            .values(status=status.value)
        )
        if rejected is not None:
            log(
                conn, model_id, EventKind.REJECTED, actor=actor, to_version=version, reason=rejected
            )

    db.write(write)


def signature_diff(
    conn: Connection, model_id: int, old_version: int, new_row: RowMapping
) -> SignatureDiff | None:
    """How the signature of ``new_row`` differs from ``old_version``'s; None if either
    version has no signature."""
    old = conn.execute(
        sa.select(v.c.signature).where(v.c.model_id == model_id, v.c.version == old_version)
    ).scalar()
    if not old or not new_row["signature"]:
        return None
    return Signature.from_dict(old).diff(Signature.from_dict(new_row["signature"]))
