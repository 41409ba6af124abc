"""Moving a model's aliases: promotion, rollback and the approval hold, each in one
transaction, then the wait for the replicas to serve the move."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import AliasNotFound, Conflict, Forbidden, SignatureChanged
from modelyard.registry import aliases, lookup
from modelyard.registry.records import Event
from modelyard.storage import notifications, schema
from modelyard.storage.engine import Database
from modelyard.types import EventKind, Signature, SignatureDiff, VersionStatus

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

    def move(conn: Connection) -> notifications.Published | None:
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
        pointer = aliases.current(conn, model_id, alias, lock=True)
        if pointer is not None and pointer[0] == version and expected is aliases.UNSET:
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
        _, event_id = aliases.move(
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

    event_id = run_move(db, move, wait_s)
    return None if event_id is None else lookup.event(db, name, event_id)


def rollback(
    db: Database, name: str, *, alias: str, actor: str, reason: str, wait_s: float
) -> Event:
    """Return ``alias`` to the version it held before its current one was promoted, as
    :meth:`Registry.rollback` documents."""

    def move(conn: Connection) -> notifications.Published:
        model_id = lookup.model_id(conn, name)
        pointer = aliases.current(conn, model_id, alias, lock=True)
        if pointer is None:
            raise AliasNotFound(f"model {name!r} has no {alias!r} version to roll back")
        target = aliases.previous(conn, model_id, alias, pointer[0])
        _, event_id = aliases.move(
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

    event_id = run_move(db, move, wait_s)
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
            aliases.log(
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
