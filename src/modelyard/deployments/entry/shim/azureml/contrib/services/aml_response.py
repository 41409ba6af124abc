"""``AMLResponse``: what a ``run()`` returns to choose its own status, body and headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class AMLResponse:
    """An HTTP response returned as-is by the server.

    ``json_str=True`` sends ``json.dumps(message)`` as ``application/json``; otherwise the
    body is ``message`` itself (str is UTF-8 encoded, bytes are sent raw, other iterables
    are joined) with ``text/html; charset=utf-8`` unless ``response_headers`` has a
    ``Content-Type``. ``message=None`` sends ``{}``. A header value with commas becomes
    repeated headers, one per comma-separated part.
    """

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: Mapping[str, str] = {},
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        self.headers: list[tuple[str, str]] = []
        if message is None:
            self._set_json({})
        elif json_str:
            self._set_json(message)
        else:
            self.body = _as_bytes(message)
            if "Content-Type" not in response_headers:
                self.headers.append(("Content-Type", "text/html; charset=utf-8"))
        self.headers.append(("x-ms-run-function-failed", str(run_function_failed)))
        for header, value in response_headers.items():
            for part in value.split(","):
                self.headers.append((header, part.strip()))

    def _set_json(self, message: Any) -> None:
        self.body = json.dumps(message).encode("utf-8")
        self.headers.append(("Content-Type", "application/json"))

    def get_header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        """Replace every ``name`` header (case-insensitive) by one with ``value``."""
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers = [*kept, (name, value)]

    def get_data(self) -> bytes:
        """The body."""
        return self.body

    @property
    def data(self) -> bytes:
        return self.body


def _as_bytes(message: Any) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray)):
        return bytes(message)
    parts = [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in message]
    return b"".join(parts)


__all__ = ["AMLResponse"]
