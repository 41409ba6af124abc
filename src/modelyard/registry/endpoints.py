"""Endpoints as rows: a target model reference, two keys stored as sha256, a state.

Keys are 256-bit random tokens shown once at creation or regeneration; only their
sha256 is stored, and a presented key is checked against both in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import Conflict, EndpointNotFound, InvalidInput
from modelyard.storage import schema
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import EndpointState, ModelRef, check_name

e = schema.endpoints
KEY_SLOTS = ("primary", "secondary")


def new_key() -> str:
    """A fresh 256-bit key, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """sha256 hex of a key (keys are random, so no salt or stretching is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class EndpointRecord:
    """An endpoint as stored (no keys: only their hashes exist)."""

    name: str
    target: str
    state: EndpointState
    collect: bool
    description: str
    created_at: datetime
    updated_at: datetime
    primary_key_hash: str
    secondary_key_hash: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def accepts(self, key: str) -> bool:
        """True if ``key`` is this endpoint's primary or secondary key (constant time)."""
        digest = hash_key(key)
        primary = hmac.compare_digest(digest, self.primary_key_hash)
        secondary = hmac.compare_digest(digest, self.secondary_key_hash)
        return primary | secondary


def _record(row: RowMapping) -> EndpointRecord:
    return EndpointRecord(
        name=row["name"],
        target=row["target"],
        state=EndpointState(row["state"]),
        collect=bool(row["collect"]),
        description=row["description"] or "",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        primary_key_hash=row["primary_key_hash"],
        secondary_key_hash=row["secondary_key_hash"],
        options=dict(row["options"] or {}),
    )


class EndpointStore:
    """Create, read, update and delete endpoint rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        name: str,
        target: str,
        *,
        collect: bool = False,
        description: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> tuple[EndpointRecord, dict[str, str]]:
        """Record a new endpoint; returns it with its two keys (shown this once)."""
        check_name(name, "endpoint name")
        ModelRef.parse(target)
        keys = {slot: new_key() for slot in KEY_SLOTS}

        def insert(conn: Connection) -> None:
            exists = conn.execute(sa.select(e.c.name).where(e.c.name == name)).first()
            if exists is not None:
                raise Conflict(f"endpoint {name!r} exists: delete it first or pick another name")
            now = utcnow()
            conn.execute(
                sa.insert(e).values(
                    name=name,
                    target=target,
                    primary_key_hash=hash_key(keys["primary"]),
                    secondary_key_hash=hash_key(keys["secondary"]),
                    state=EndpointState.CREATING.value,
                    collect=collect,
                    description=description,
                    options=dict(options or {}),
                    created_at=now,
                    updated_at=now,
                )
            )

        self._db.write(insert)
        return self.get(name), keys

    def get(self, name: str) -> EndpointRecord:
        """The endpoint ``name``; raises ``EndpointNotFound``."""

        def read(conn: Connection) -> EndpointRecord:
            row = conn.execute(sa.select(e).where(e.c.name == name)).mappings().first()
            if row is None:
                raise EndpointNotFound(
                    f"no endpoint named {name!r}: `modelyard endpoints list` shows them",
                    endpoint=name,
                )
            return _record(row)

        return self._db.read(read)

    def list(self) -> list[EndpointRecord]:
        """All endpoints by name."""

        def read(conn: Connection) -> list[EndpointRecord]:
            rows = conn.execute(sa.select(e).order_by(e.c.name)).mappings()
            return [_record(r) for r in rows]

        return self._db.read(read)

    def delete(self, name: str) -> None:
        """Remove the endpoint ``name``."""
        self.get(name)
        self._db.write(lambda conn: conn.execute(sa.delete(e).where(e.c.name == name)))

    def regenerate(self, name: str, slot: str) -> str:
        """A new key for ``slot`` (primary or secondary); the old one stops working."""
        if slot not in KEY_SLOTS:
            raise InvalidInput(f"key slot must be primary or secondary, not {slot!r}")
        self.get(name)
        key = new_key()
        column = f"{slot}_key_hash"
        self._db.write(
            lambda conn: conn.execute(
                sa.update(e)
                .where(e.c.name == name)
                .values({column: hash_key(key), "updated_at": utcnow()})
            )
        )
        return key

    def set_target(self, name: str, target: str) -> EndpointRecord:
        """Point the endpoint at another model reference; replicas follow within a second."""
        ModelRef.parse(target)

        def update(conn: Connection) -> None:
            moved = conn.execute(
                sa.update(e).where(e.c.name == name).values(target=target, updated_at=utcnow())
            ).rowcount
            if moved != 1:
                raise EndpointNotFound(
                    f"no endpoint named {name!r}: `modelyard endpoints list` shows them",
                    endpoint=name,
                )

        self._db.write(update)
        return self.get(name)

    def set_state(self, name: str, state: EndpointState) -> None:
        """Record the endpoint's state as seen by a serving replica."""
        self._db.write(
            lambda conn: conn.execute(
                sa.update(e).where(e.c.name == name).values(state=state.value, updated_at=utcnow())
            )
        )
