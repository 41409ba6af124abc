"""Secrets that hide themselves, and redaction of URL passwords and secret values.

A ``Secret`` prints as ``***`` in ``str``, ``repr``, logs and tracebacks; a
``SecretURL`` prints as ``postgresql+psycopg://app:***@db/x``. ``redact`` scrubs them
out of foreign text (a driver's error message, say) before it is shown.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

_URL_PASSWORD_RE = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)@")
# A query parameter that carries a credential: password, sslpassword, token, key, secret,
# sig (Azure SAS), X-Amz-Signature, X-Amz-Credential, access_token, api_key, ...
_CREDENTIAL = r"[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|sig|credential|auth)[A-Za-z0-9_.-]*"
_URL_QUERY_SECRET_RE = re.compile(rf"(?P<head>[?&;](?i:{_CREDENTIAL})=)(?P<value>[^&;#\s'\"<>]+)")
_MASK = "***"


class Secret:
    """A value that never shows itself in ``str``, ``repr``, logs or tracebacks.

    >>> Secret("hunter2")
    Secret('***')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the real value, for the one place that needs it."""
        return self._value

    def matches(self, candidate: str | None) -> bool:
        """True if ``candidate`` is this secret (constant-time compare)."""
        if candidate is None or not self._value:
            return False
        return hmac.compare_digest(candidate.encode(), self._value.encode())

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{_MASK}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class SecretURL(Secret):
    """A database URL that prints as ``postgresql+psycopg://app:***@db/x``."""

    __slots__ = ()

    def __str__(self) -> str:
        return redact_url(self._value)

    def __repr__(self) -> str:
        return f"SecretURL('{redact_url(self._value)}')"

    @property
    def password(self) -> str | None:
        """The password part of the URL, if any (needed to scrub foreign messages)."""
        match = _URL_PASSWORD_RE.search(self._value)
        return match["pw"] if match and match["pw"] else None

    def credentials(self) -> list[str]:
        """Every credential the URL holds: its password and the values of its
        credential-bearing query parameters (to scrub them out of foreign messages)."""
        found = [self.password] if self.password else []
        found += [m["value"] for m in _URL_QUERY_SECRET_RE.finditer(self._value)]
        return [unquote(value) for value in found] + found


def redact_url(url: str) -> str:
    """Mask every credential of every URL in ``url``: the password of ``user:pass@`` and
    the value of each credential-bearing query parameter (``?password=``, ``sslpassword``,
    ``token``, ``key``, ``secret``, ``sig``, ...). The one redaction of URLs: everything
    that stores, logs or prints one goes through it."""
    text = _URL_PASSWORD_RE.sub(lambda m: f"{m['head']}{_MASK}@", url)
    return _URL_QUERY_SECRET_RE.sub(lambda m: f"{m['head']}{_MASK}", text)


def redact_all(value: Any) -> Any:
    """``value`` with :func:`redact_url` applied to every string in it, through nested
    mappings and lists (lineage, details: what is stored as JSON)."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(item) for item in value]
    return value


def redact(text: str, *secrets: Secret | None) -> str:
    """Scrub URL passwords and the given secrets' values out of ``text``."""
    text = redact_url(text)
    for secret in secrets:
        if secret is None:
            continue
        values = [secret.reveal()]
        if isinstance(secret, SecretURL):
            values += secret.credentials()
        for value in values:
            if value and len(value) >= 3:
                text = text.replace(value, _MASK)
    return text
