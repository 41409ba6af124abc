"""Fixtures shared by the source tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa


@pytest.fixture
def engine(postgresql_url: str) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine on the session's PostgreSQL database."""
    engine = sa.create_engine(postgresql_url)
    yield engine
    engine.dispose()
