"""Endpoints as rows: a target model reference, two keys stored as sha256, a state.

Keys are 256-bit random tokens shown once at creation or regeneration; only their
sha256 is stored, and a presented key is checked against both in constant time.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import Conflict, EndpointNotFound, InvalidInput
from modelyard.storage import notifications, schema
from modelyard.storage.engine import Database
from modelyard.storage.rollout import Mirror, Rollout
from modelyard.storage.schema import utcnow
from modelyard.types import EndpointState, ModelRef, check_name

e = schema.endpoints
logs = schema.endpoint_logs
LOG_KEEP = 5000  # log lines kept per endpoint
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
    state_reason: str | None = None
    rollout: Rollout = field(default_factory=Rollout)  # canary split and mirror

    @property
    def kind(self) -> str:
        """``model`` (serves a model reference) or ``script`` (an entry script and its models)."""
        return str(self.options.get("kind", "model"))

    @property
    def sampling_rate(self) -> float:
        """The share of requests collected when ``collect`` is on (0 to 1, default 1)."""
        return float(self.options.get("sampling_rate", 1.0))

    @property
    def auth_enabled(self) -> bool:
        """False only for an endpoint created without keys (served so on loopback alone)."""
        return bool(self.options.get("auth", True))

    def accepts(self, key: str) -> bool:
        """True if ``key`` is this endpoint's primary or secondary key (constant time)."""
        digest = hash_key(key)
        primary = hmac.compare_digest(digest, self.primary_key_hash)
        secondary = hmac.compare_digest(digest, self.secondary_key_hash)
        return primary | secondary


def check_rate(rate: float) -> None:
    """Raise ``InvalidInput`` unless ``rate`` is a share from 0 to 1."""
    if not 0.0 <= rate <= 1.0:
        raise InvalidInput(
            f"sampling_rate must be from 0 to 1 (the share of requests collected), not {rate}",
            code="bad_sampling_rate",
        )


def check_output_names(names: Sequence[str]) -> list[str]:
    """``names`` as a list, refused (``InvalidInput``) when one is blank or repeated."""
    cleaned = [str(n).strip() for n in names]
    if any(not n for n in cleaned) or len(set(cleaned)) != len(cleaned):
        raise InvalidInput(
            f"output names must be distinct and non-blank, got {list(names)!r}",
            code="bad_output_names",
        )
    return cleaned


def _not_found(name: str) -> EndpointNotFound:
    return EndpointNotFound(
        f"no endpoint named {name!r}: `modelyard endpoints list` shows them", endpoint=name
    )


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
        state_reason=row["state_reason"],
        rollout=Rollout.stored(row["traffic"], row["mirror"]),
    )


@dataclass(frozen=True)
class LogLine:
    """One line an endpoint's replica logged: environment build, entry-script output, events."""

    id: int
    replica: str
    stream: str
    line: str
    created_at: datetime


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
        """Record a new endpoint; returns it with its two keys (shown this once).

        ``options["kind"] == "script"`` marks an entry-script endpoint, whose ``target`` is
        a description (its models are in ``options``); any other target is a model reference.
        """
        check_name(name, "endpoint name")
        if (options or {}).get("kind", "model") != "script":
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
                raise _not_found(name)
            return _record(row)

        return self._db.read(read)

    def serving_replicas(self) -> int:
        """How many replicas (``modelyard serve`` or ``up`` processes) serve the endpoints
        of this registry now; see ``notifications.serving_replicas``."""
        return notifications.serving_replicas(self._db)

    def list(self) -> list[EndpointRecord]:
        """All endpoints by name."""

        def read(conn: Connection) -> list[EndpointRecord]:
            rows = conn.execute(sa.select(e).order_by(e.c.name)).mappings()
            return [_record(r) for r in rows]

        return self._db.read(read)

    def delete(self, name: str) -> None:
        """Remove the endpoint ``name``."""
        self.get(name)

        def remove(conn: Connection) -> None:
            conn.execute(sa.delete(logs).where(logs.c.endpoint == name))
            conn.execute(sa.delete(e).where(e.c.name == name))

        self._db.write(remove)

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
                raise _not_found(name)

        self._db.write(update)
        return self.get(name)

    def set_options(
        self, name: str, target: str, options: Mapping[str, Any], *, state: EndpointState
    ) -> EndpointRecord:
        """Replace an entry-script endpoint's target description and options (keys stay);
        replicas pick the new deployment up within a second."""

        def update(conn: Connection) -> None:
            moved = conn.execute(
                sa.update(e)
                .where(e.c.name == name)
                .values(
                    target=target,
                    options=dict(options),
                    state=state.value,
                    state_reason=None,
                    updated_at=utcnow(),
                )
            ).rowcount
            if moved != 1:
                raise _not_found(name)

        self._db.write(update)
        return self.get(name)

    def set_collection(self, name: str, collect: bool, sampling_rate: float) -> EndpointRecord:
        """Turn collection on or off and set the share of requests collected; replicas
        follow within a second."""
        check_rate(sampling_rate)

        def update(conn: Connection) -> None:
            row = conn.execute(sa.select(e.c.options).where(e.c.name == name)).first()
            if row is None:
                raise _not_found(name)
            options = {**(row.options or {}), "sampling_rate": sampling_rate}
            conn.execute(
                sa.update(e)
                .where(e.c.name == name)
                .values(collect=collect, options=options, updated_at=utcnow())
            )

        self._db.write(update)
        return self.get(name)

    def set_output_names(self, name: str, names: Sequence[str]) -> EndpointRecord:
        """Name the endpoint's outputs (``[]``: the wire formats' defaults again); replicas
        follow within a second."""
        checked = check_output_names(names)

        def update(conn: Connection) -> None:
            row = conn.execute(sa.select(e.c.options).where(e.c.name == name)).first()
            if row is None:
                raise _not_found(name)
            options = {k: v for k, v in (row.options or {}).items() if k != "output_names"}
            if checked:
                options["output_names"] = checked
            conn.execute(
                sa.update(e).where(e.c.name == name).values(options=options, updated_at=utcnow())
            )

        self._db.write(update)
        return self.get(name)

    def set_rollout(
        self,
        name: str,
        *,
        traffic: Mapping[str, int] | None = None,
        mirror: Mirror | bool | None = False,
    ) -> EndpointRecord:
        """Set the canary split (``traffic``; ``{}`` turns it off, None leaves it) and/or
        the mirror (a ``Mirror``; None turns it off, False leaves it), checked already
        (``storage.rollout``); replicas follow within a second."""
        values: dict[str, Any] = {"updated_at": utcnow()}
        if traffic is not None:
            values["traffic"] = dict(traffic) or None
        if mirror is not False:
            values["mirror"] = mirror.to_dict() if isinstance(mirror, Mirror) else None

        def update(conn: Connection) -> None:
            moved = conn.execute(sa.update(e).where(e.c.name == name).values(values)).rowcount
            if moved != 1:
                raise _not_found(name)

        self._db.write(update)
        return self.get(name)

    def set_state(self, name: str, state: EndpointState, reason: str | None = None) -> None:
        """Record the endpoint's state as seen by a serving replica, and why."""
        self._db.write(
            lambda conn: conn.execute(
                sa.update(e)
                .where(e.c.name == name)
                .values(state=state.value, state_reason=reason, updated_at=utcnow())
            )
        )

    def append_logs(self, name: str, replica: str, lines: Sequence[tuple[str, str]]) -> None:
        """Append ``(stream, line)`` pairs to the endpoint's log (dropped if the endpoint was
        deleted meanwhile), keeping at most the newest ``LOG_KEEP`` lines."""
        if not lines:
            return
        now = utcnow()
        rows = [
            {"endpoint": name, "replica": replica, "stream": s, "line": t[:4000], "created_at": now}
            for s, t in lines
        ]

        def write(conn: Connection) -> None:
            if conn.execute(sa.select(e.c.name).where(e.c.name == name)).first() is None:
                return  # deleted meanwhile: its last lines go with it
            conn.execute(sa.insert(logs), rows)
            newest = conn.execute(
                sa.select(sa.func.max(logs.c.id)).where(logs.c.endpoint == name)
            ).scalar()
            if newest is not None and newest > LOG_KEEP:
                conn.execute(
                    sa.delete(logs).where(logs.c.endpoint == name, logs.c.id <= newest - LOG_KEEP)
                )

        self._db.write(write)

    def logs(self, name: str, *, tail: int = 1000) -> builtins.list[LogLine]:
        """The endpoint's newest ``tail`` log lines, oldest first."""
        self.get(name)

        def read(conn: Connection) -> builtins.list[LogLine]:
            rows = conn.execute(
                sa.select(logs)
                .where(logs.c.endpoint == name)
                .order_by(logs.c.id.desc())
                .limit(tail)
            ).mappings()
            found = [
                LogLine(r["id"], r["replica"], r["stream"], r["line"], r["created_at"])
                for r in rows
            ]
            return found[::-1]

        return self._db.read(read)
