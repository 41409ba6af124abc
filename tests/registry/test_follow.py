"""Alias moves pushed on PostgreSQL: one notice per committed move, none for a refused one."""

from __future__ import annotations

import select
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor

from modelyard import Workspace
from modelyard.errors import AliasMoved
from modelyard.registry.follow import AliasMove, Listener, upcoming
from tests.conftest import make_settings


@pytest.fixture
def pg_workspace(tmp_path: Path, postgresql_url: str) -> Iterator[Workspace]:
    ws = Workspace(make_settings(tmp_path, postgresql_url))
    yield ws
    ws.close()


def _moves(listener: Listener, wait_s: float) -> list[AliasMove]:
    """Everything received within ``wait_s`` after the first notice (or nothing)."""
    got: list[AliasMove] = []
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([listener], [], [], left)
        if readable:
            got += listener.drain()
    return got


def test_each_committed_move_is_pushed_once_and_a_refused_one_never(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    name = f"f{uuid.uuid4().hex[:8]}"
    frame = pd.DataFrame({"x": [0.0, 1.0]})
    for k in (1.0, 2.0, 3.0):
        model = DummyRegressor(strategy="constant", constant=k).fit(frame, [0.0, 0.0])
        ws.models.register(name, model, input_example=frame)
    listener = Listener.open(ws.db)
    assert listener is not None
    try:
        before = time.time()
        ws.models.promote(name, 1)
        ws.models.promote(name, 2)
        with pytest.raises(AliasMoved):
            ws.registry.promote(name, 3, expected=1)  # rolled back: no notice
        ws.models.rollback(name)
        moves = _moves(listener, 1.0)
    finally:
        listener.close()
    assert [(m.model, m.alias, m.version) for m in moves] == [
        (name, "champion", 1),
        (name, "champion", 2),
        (name, "champion", 1),
    ]
    assert all(m.sent_at is not None and before - 1 < m.sent_at < time.time() for m in moves)
    assert upcoming(ws.db, name, 1) == [2, 3]


def test_sqlite_pushes_nothing_and_replicas_poll_there(sqlite_workspace: Workspace) -> None:
    assert Listener.open(sqlite_workspace.db) is None
