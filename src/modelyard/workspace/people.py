"""``ws.people``: named users with roles, their personal API tokens, Studio sessions and
the audit log. The admin key stays the bootstrap account: it acts as the user ``admin``
with every right, and creates the others.

>>> ws.people.add("alice", "scientist")
>>> token, secret = ws.people.issue_token("alice", "laptop")   # secret shown this once
>>> ws.people.authenticate(secret)
Person(name='alice', role=<Role.SCIENTIST: 'scientist'>)
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import timedelta

from modelyard.config.secret import Secret
from modelyard.errors import Forbidden, InvalidInput, NotFound
from modelyard.storage.audit import AuditEntry, AuditLog
from modelyard.storage.people import PeopleStore, Token, User, parse_role
from modelyard.storage.sessions import Session, SessionStore
from modelyard.types import Action, Role

ADMIN = "admin"  # the bootstrap account: whoever holds the workspace admin key
SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class Person:
    """Who is acting, and with which role."""

    name: str
    role: Role

    def may(self, action: Action) -> bool:
        """True if this person's role allows ``action``."""
        return self.role.may(action)

    def require(self, action: Action, what: str) -> None:
        """Raise ``Forbidden`` unless the role allows ``action``; ``what`` names the attempt."""
        if not self.may(action):
            raise Forbidden(
                f"{self.name} is a {self.role.value}: {what} needs the "
                f"{action.role.value} role or above (ask an admin)",
                role=self.role.value,
                needs=action.role.value,
            )


class People:
    """Users, tokens and sessions, over the registry database."""

    def __init__(
        self,
        admin_key: Secret | None,
        store: PeopleStore,
        sessions: SessionStore,
        audit: AuditLog,
    ) -> None:
        self._admin_key = admin_key
        self._store = store
        self._sessions = sessions
        self.audit = audit

    # -- users ---------------------------------------------------------------------------

    def add(self, name: str, role: Role | str, *, actor: str = ADMIN) -> User:
        """Create a user with ``role``; raises ``Conflict`` if the name is taken."""
        if name == ADMIN:
            raise InvalidInput(f"{ADMIN!r} is the admin key's account: pick another name")
        user = self._store.create(name, _role(role), created_by=actor)
        self.audit.record(actor, "user.created", name, {"role": user.role.value})
        return user

    def list(self) -> builtins.list[User]:
        """Every user by name (the ``admin`` account is not a row)."""
        return self._store.list()

    def get(self, name: str) -> User:
        """One user; raises ``NotFound``."""
        return self._store.get(name)

    def set_role(self, name: str, role: Role | str, *, actor: str = ADMIN) -> User:
        """Change a user's role; their open Studio sessions end."""
        user = self._store.update(name, role=_role(role))
        self._sessions.close_all(name)
        self.audit.record(actor, "user.role_changed", name, {"role": user.role.value})
        return user

    def set_disabled(self, name: str, disabled: bool, *, actor: str = ADMIN) -> User:
        """Disable a user (their tokens and sessions stop working) or enable them again."""
        user = self._store.update(name, disabled=disabled)
        if disabled:
            self._sessions.close_all(name)
        self.audit.record(actor, "user.disabled" if disabled else "user.enabled", name)
        return user

    # -- tokens --------------------------------------------------------------------------

    def issue_token(self, user: str, label: str = "", *, actor: str = ADMIN) -> tuple[Token, str]:
        """A new personal token for ``user``: its record and the token (shown this once)."""
        if user == ADMIN:
            raise InvalidInput(
                f"{ADMIN!r} is the admin key's account and has no tokens: add a user for "
                "yourself (`modelyard users add NAME --role admin`) and use their token"
            )
        token, secret = self._store.issue(user, label)
        self.audit.record(actor, "token.issued", user, {"token": token.id, "label": token.label})
        return token, secret

    def tokens(self, user: str) -> builtins.list[Token]:
        """A user's tokens, newest first."""
        return self._store.tokens(user)

    def revoke_token(self, user: str, token_id: str, *, actor: str = ADMIN) -> Token:
        """Revoke one of ``user``'s tokens: it opens nothing from now on."""
        token = self._store.revoke(user, token_id)
        self.audit.record(actor, "token.revoked", user, {"token": token.id, "label": token.label})
        return token

    def authenticate(self, secret: str | None) -> Person | None:
        """The person a bearer secret names: the admin key is ``admin``; an active personal
        token is its enabled user; anything else is None."""
        if secret is None:
            return None
        if self._admin_key is not None and self._admin_key.matches(secret):
            return Person(ADMIN, Role.ADMIN)
        user = self._store.holder(secret)
        return None if user is None else Person(user.name, user.role)

    def person(self, name: str) -> Person | None:
        """The person called ``name`` now (None if unknown or disabled)."""
        if name == ADMIN:
            return Person(ADMIN, Role.ADMIN) if self._admin_key else None
        try:
            user = self._store.get(name)
        except NotFound:
            return None
        return None if user.disabled else Person(user.name, user.role)

    # -- Studio sessions -----------------------------------------------------------------

    def open_session(self, person: Person, ttl: timedelta = SESSION_TTL) -> tuple[str, Session]:
        """A session for ``person``: its id (the cookie's value) and its CSRF token."""
        return self._sessions.open(person.name, ttl)

    def session(self, session_id: str) -> tuple[Person, Session] | None:
        """The person and session of a live session id, or None (expired, logged out,
        user disabled)."""
        session = self._sessions.find(session_id)
        person = None if session is None else self.person(session.user)
        return None if person is None or session is None else (person, session)

    def close_session(self, session_id: str) -> None:
        """Log out: the session id opens nothing from now on."""
        self._sessions.close(session_id)

    def history(self, *, limit: int = 100, subject: str | None = None) -> builtins.list[AuditEntry]:
        """The audit log, newest first."""
        return self.audit.list(limit=limit, subject=subject)


def _role(role: Role | str) -> Role:
    return role if isinstance(role, Role) else parse_role(role)
