"""Users with a role, and their personal API tokens (256-bit random, stored as sha256).

A token is shown once when issued; only its hash is kept, so a lost token is revoked and
another issued. A revoked token, or any token of a disabled user, opens nothing.
"""

from __future__ import annotations

import builtins
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.engine import Connection

from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.storage import schema
from modelyard.storage.endpoints import hash_key, new_key
from modelyard.storage.engine import Database
from modelyard.storage.schema import utcnow
from modelyard.types import Role, check_name

u, t = schema.users, schema.user_tokens
TOUCH_EVERY = timedelta(minutes=1)  # how stale a token's last_used_at may get (one write)


@dataclass(frozen=True)
class User:
    """A named person and the role that bounds what they may do."""

    name: str
    role: Role
    disabled: bool
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Token:
    """A personal API token as stored: never the token itself."""

    id: str
    user: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


def parse_role(text: str) -> Role:
    """The role named ``text``; raises ``InvalidInput`` naming the four roles."""
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"no role {text!r}: choose one of {roles}", code="invalid_role"
        ) from None


def _user(row: RowMapping) -> User:
    return User(
        name=row["name"],
        role=Role(row["role"]),
        disabled=bool(row["disabled"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def _token(row: RowMapping) -> Token:
    return Token(
        id=row["id"],
        user=row["user_name"],
        label=row["label"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def _no_user(name: str) -> NotFound:
    return NotFound(f"no user named {name!r}: `modelyard users list` shows them", user=name)


class PeopleStore:
    """Users and their tokens; each call is one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, name: str, role: Role, *, created_by: str) -> User:
        """Record a new user; raises ``Conflict`` if the name is taken."""
        check_name(name, "user name")

        def insert(conn: Connection) -> None:
            if conn.execute(sa.select(u.c.name).where(u.c.name == name)).first() is not None:
                raise Conflict(f"user {name!r} exists: change their role instead")
            conn.execute(
                sa.insert(u).values(
                    name=name,
                    role=role.value,
                    disabled=False,
                    created_by=created_by[:128],
                    created_at=utcnow(),
                )
            )

        self._db.write(insert)
        return self.get(name)

    def get(self, name: str) -> User:
        """The user ``name``; raises ``NotFound``."""

        def read(conn: Connection) -> User:
            row = conn.execute(sa.select(u).where(u.c.name == name)).mappings().first()
            if row is None:
                raise _no_user(name)
            return _user(row)

        return self._db.read(read)

    def list(self) -> builtins.list[User]:
        """Every user by name."""
        return self._db.read(
            lambda conn: [
                _user(r) for r in conn.execute(sa.select(u).order_by(u.c.name)).mappings()
            ]
        )

    def update(self, name: str, *, role: Role | None = None, disabled: bool | None = None) -> User:
        """Change a user's role or disable/enable them; raises ``NotFound``."""
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role.value
        if disabled is not None:
            values["disabled"] = disabled

        def write(conn: Connection) -> None:
            if conn.execute(sa.update(u).where(u.c.name == name).values(**values)).rowcount != 1:
                raise _no_user(name)

        if values:
            self._db.write(write)
        return self.get(name)

    def issue(self, user: str, label: str) -> tuple[Token, str]:
        """A new token for ``user``: the stored record and the token itself (shown once)."""
        secret = new_key()
        token_id = uuid.uuid4().hex

        def insert(conn: Connection) -> None:
            if conn.execute(sa.select(u.c.name).where(u.c.name == user)).first() is None:
                raise _no_user(user)
            conn.execute(
                sa.insert(t).values(
                    id=token_id,
                    user_name=user,
                    token_hash=hash_key(secret),
                    label=(label or "token")[:128],
                    created_at=utcnow(),
                )
            )

        self._db.write(insert)
        return next(k for k in self.tokens(user) if k.id == token_id), secret

    def tokens(self, user: str) -> builtins.list[Token]:
        """A user's tokens, newest first, revoked ones included."""
        query = sa.select(t).where(t.c.user_name == user).order_by(t.c.created_at.desc())
        return self._db.read(lambda conn: [_token(r) for r in conn.execute(query).mappings()])

    def revoke(self, user: str, token_id: str) -> Token:
        """Revoke one of ``user``'s tokens (a no-op if it was already); raises ``NotFound``."""

        def write(conn: Connection) -> None:
            row = conn.execute(
                sa.select(t.c.revoked_at).where(t.c.id == token_id, t.c.user_name == user)
            ).first()
            if row is None:
                raise NotFound(f"user {user!r} has no token {token_id!r}", token=token_id)
            if row[0] is None:
                conn.execute(sa.update(t).where(t.c.id == token_id).values(revoked_at=utcnow()))

        self._db.write(write)
        return next(k for k in self.tokens(user) if k.id == token_id)

    def holder(self, secret: str) -> User | None:
        """The enabled user whose active token ``secret`` is, or None; records its use."""
        digest = hash_key(secret)

        def read(conn: Connection) -> tuple[User, Token] | None:
            row = (
                conn.execute(
                    sa.select(t, u.c.name, u.c.role, u.c.disabled, u.c.created_by)
                    .add_columns(u.c.created_at.label("user_created_at"))
                    .join(u, u.c.name == t.c.user_name)
                    .where(t.c.token_hash == digest)
                )
                .mappings()
                .first()
            )
            if row is None or not hmac.compare_digest(row["token_hash"], digest):
                return None
            if row["revoked_at"] is not None or row["disabled"]:
                return None
            person = User(
                row["name"], Role(row["role"]), False, row["created_by"], row["user_created_at"]
            )
            return person, _token(row)

        found = self._db.read(read)
        if found is None:
            return None
        person, token = found
        now = utcnow()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            self._db.write(
                lambda conn: conn.execute(
                    sa.update(t).where(t.c.id == token.id).values(last_used_at=now)
                )
            )
        return person
