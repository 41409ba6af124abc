"""CORS as azmlinfsrv 1.5.1 answers it when ``AML_CORS_ORIGINS`` is set.

azmlinfsrv calls ``flask_cors.CORS(blueprint, methods=["GET", "POST"], origins=[...])``
with the comma-separated list, stripped. flask-cors (6.0) then adds, to every reply of a
matched route (not to 404s or 405s from routing, nor to a reply that already carries
``Access-Control-Allow-Origin``):

- ``Access-Control-Allow-Origin``: the request's ``Origin`` if it matches a listed origin
  (literal ones compared case-insensitively, regex-looking ones matched from the start,
  ``*`` matching all); nothing at all if it does not match; without an ``Origin``, ``*``
  for a wildcard list, else the first listed literal origin in sorted order;
- on ``OPTIONS`` whose ``Access-Control-Request-Method`` is a substring of
  ``"GET, POST"``: ``Access-Control-Allow-Headers`` (the requested headers, sorted) and
  ``Access-Control-Allow-Methods: GET, POST``;
- ``Access-Control-Allow-Private-Network: false`` when the request asks for it;
- ``Vary: Origin`` unless ``*`` is sent, when more than one origin is listed or one is a
  regex.
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Union

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
METHODS = "GET, POST"  # flask-cors joins the sorted list it was given
REGEX_HINTS = frozenset("*\\]?$^[]()")

Pattern = Union[str, "re.Pattern[str]"]
HeaderGetter = Callable[[str], Optional[str]]


def _resolve(origin: str) -> Pattern:
    if REGEX_HINTS.isdisjoint(origin):
        return origin
    return re.compile(origin, re.IGNORECASE)


def _matches(value: str, patterns: list[Pattern]) -> bool:
    for pattern in patterns:
        if isinstance(pattern, str):
            if value.casefold() == pattern.casefold():
                return True
        elif pattern.match(value):
            return True
    return False


class Cors:
    """The CORS headers for one list of allowed origins."""

    def __init__(self, origins: list[str]) -> None:
        listed = [".*" if origin == "*" else origin for origin in origins]
        self.wildcard = ".*" in listed
        self.origins = [_resolve(origin) for origin in listed]
        self.any_header: list[Pattern] = [re.compile(".*", re.IGNORECASE)]

    @classmethod
    def from_env(cls, value: str | None) -> Cors | None:
        """The policy for ``AML_CORS_ORIGINS``; None (no CORS headers) when unset or empty."""
        if not value:
            return None
        return cls([origin.strip() for origin in value.split(",")])

    def headers(self, method: str, header: HeaderGetter) -> list[tuple[str, str]]:
        """The headers to add to a reply to a ``method`` request whose headers ``header``
        reads (case-insensitively); empty when the request gets none."""
        to_set = self._origins(header("Origin"))
        if not to_set:
            return []
        found: list[tuple[str, str | None]] = [(ALLOW_ORIGIN, to_set[0])]
        if header("Access-Control-Request-Private-Network") == "true":
            found.append(("Access-Control-Allow-Private-Network", "false"))
        if method == "OPTIONS":
            asked = (header("Access-Control-Request-Method") or "").upper()
            if asked and asked in METHODS:
                found.append(("Access-Control-Allow-Headers", self._allow_headers(header)))
                found.append(("Access-Control-Allow-Methods", METHODS))
        several = len(self.origins) > 1 or len(to_set) > 1
        regex = any(not isinstance(origin, str) for origin in self.origins)
        if to_set[0] != "*" and (several or regex):
            found.append(("Vary", "Origin"))
        return [(name, value) for name, value in found if value]

    def _origins(self, origin: str | None) -> list[str]:
        if origin:
            return [origin] if _matches(origin, self.origins) else []
        if self.wildcard:
            return ["*"]
        return sorted(o for o in self.origins if isinstance(o, str))

    def _allow_headers(self, header: HeaderGetter) -> str | None:
        asked = header("Access-Control-Request-Headers")
        if not asked:
            return None
        names = [name.strip() for name in asked.split(",")]
        return ", ".join(sorted(name for name in names if _matches(name, self.any_header)))
