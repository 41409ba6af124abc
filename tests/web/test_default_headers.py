"""The scoring lane writes uvicorn's default headers (``date``, ``server``) as uvicorn's
cycle would, made again whenever uvicorn replaces its list (each second, for the date)."""

from __future__ import annotations

from modelyard.web.protocol import _DefaultHeaders


def test_a_new_list_makes_new_bytes_and_the_same_list_the_same() -> None:
    defaults = _DefaultHeaders()
    first = [(b"date", b"Sun, 06 Dec 2026 01:00:00 GMT"), (b"server", b"uvicorn")]
    made = defaults.of(first)
    assert made == b"date: Sun, 06 Dec 2026 01:00:00 GMT\r\nserver: uvicorn\r\n"
    assert defaults.of(first) is made
    second = [(b"date", b"Sun, 06 Dec 2026 01:00:01 GMT"), (b"server", b"uvicorn")]
    assert defaults.of(second) == b"date: Sun, 06 Dec 2026 01:00:01 GMT\r\nserver: uvicorn\r\n"
    assert defaults.of([]) == b""
