"""Studio sessions: the cookie, who is visiting, and the CSRF check of every form.

Logging in with the admin key or a personal token opens a server-side session (see
:mod:`modelyard.storage.sessions`); the cookie holds its id and an HMAC of it keyed from
the admin key, and is ``HttpOnly``, ``SameSite=Strict``, scoped to ``/studio`` and expiring
with the session. Every state-changing request must carry the session's CSRF token (form
field ``csrf`` or header ``X-CSRF-Token``), come from this server's own origin and Host,
and come from a role allowed to do it. The key or token itself is never put in a URL, a
page or the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import Response

from modelyard.config.secret import Secret
from modelyard.errors import Forbidden, Unauthorized
from modelyard.storage.sessions import Session
from modelyard.types import Action
from modelyard.web.admin.guard import AdminGuard
from modelyard.workspace.people import People, Person

COOKIE = "modelyard_session"
PREFIX = "/studio"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Visitor:
    """A logged-in person and their session's CSRF token (for the forms of a page)."""

    person: Person
    csrf: str

    def may(self, action: Action) -> bool:
        """True if the visitor's role allows ``action`` (pages hide what it does not)."""
        return self.person.may(action)


class Sessions:
    """Open, read and close Studio sessions for requests."""

    def __init__(self, people: People, admin_key: Secret, guard: AdminGuard) -> None:
        self.people = people
        self.guard = guard
        self._signing = hashlib.sha256(b"modelyard studio session\0" + admin_key.reveal().encode())

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._signing.digest(), session_id.encode(), "sha256").hexdigest()

    def login(self, secret: str, response: Response, *, secure: bool) -> Person:
        """Open a session for the holder of ``secret`` and set its cookie on ``response``;
        raises ``Unauthorized`` for a secret that is neither the admin key nor a token."""
        person = self.people.authenticate(secret.strip() or None)
        if person is None:
            raise Unauthorized("that is neither the admin key nor an active personal token")
        session_id, session = self.people.open_session(person)
        response.set_cookie(
            COOKIE,
            f"{session_id}.{self._sign(session_id)}",
            max_age=session_expiry(session),
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return person

    def _session_id(self, request: Request) -> str | None:
        value = request.cookies.get(COOKIE, "")
        session_id, _, signature = value.partition(".")
        if not session_id or not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id

    def visitor(self, request: Request) -> Visitor | None:
        """The visitor of a live session, or None."""
        self.guard.check_host(request)
        session_id = self._session_id(request)
        found = self.people.session(session_id) if session_id else None
        if found is None:
            return None
        person, session = found
        return Visitor(person, session.csrf)

    def logout(self, request: Request, response: Response) -> None:
        """End the session server-side and clear its cookie."""
        session_id = self._session_id(request)
        if session_id:
            self.people.close_session(session_id)
        response.delete_cookie(COOKIE, path=PREFIX)

    async def acting(self, request: Request, action: Action, what: str) -> Visitor:
        """The visitor allowed to do ``action`` by a form they sent: raises ``Unauthorized``
        without a session, ``Forbidden`` for another origin, a missing or foreign CSRF
        token, or a role that does not allow it."""
        self.guard.check_origin(request)
        visitor = self.visitor(request)
        if visitor is None:
            raise Unauthorized("log in to the Studio first: your session ended or never began")
        form = await request.form()
        sent = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD, ""))
        if not sent or not hmac.compare_digest(sent.encode(), visitor.csrf.encode()):
            raise Forbidden(
                "the form's CSRF token is missing or not this session's: reload the page"
            )
        visitor.person.require(action, what)
        return visitor


def session_expiry(session: Session) -> int:
    """Seconds until ``session`` expires (the cookie's Max-Age)."""
    return max(0, int((session.expires_at - datetime.now(UTC)).total_seconds()))
