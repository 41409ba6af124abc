"""SQL drivers: which reader each backend gets, its dialect, and how its errors read.

The fast readers (ADBC, connectorx) are optional imports: :func:`import_driver` raises
:class:`DriverMissing` when one is not installed, and the caller falls back to SQLAlchemy.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import mssql, mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect

READERS = ("auto", "adbc", "connectorx", "sqlalchemy")
FAST_READER = {"postgresql": "adbc", "sqlite": "adbc", "mysql": "connectorx",
               "mariadb": "connectorx", "mssql": "connectorx"}  # fmt: skip
DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": lambda: postgresql.dialect(paramstyle="numeric_dollar"),  # type: ignore[no-untyped-call]
    "sqlite": lambda: sqlite.dialect(paramstyle="qmark"),
    "mysql": mysql.dialect,
    "mariadb": mysql.dialect,
    "mssql": mssql.dialect,
}
UNREACHABLE = re.compile(
    r"could not connect|connection refused|connection to server|timed out|timeout expired|"
    r"password authentication failed|access denied|unknown database|does not exist.*database|"
    r"database .* does not exist|no such host|name or service not known|can't connect|"
    r"unable to open database|failed to connect|error connecting|tcp connect",
    re.IGNORECASE,
)


class DriverMissing(Exception):
    """The fast driver is not installed: fall back to SQLAlchemy."""


def import_driver(module: str) -> Any:
    """Import a fast driver's module; DriverMissing if it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DriverMissing(module) from None


def first_line(exc: BaseException) -> str:
    """The first few non-blank lines of a driver's error, joined into one."""
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])
