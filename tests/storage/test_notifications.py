"""Alias moves pushed on PostgreSQL: one notice per committed move, none for a refused one,
and a move returns once the listening replicas acknowledged it."""

from __future__ import annotations

import select
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.errors import AliasMoved
from modelyard.storage.notifications import AliasMove, Listener, upcoming
from tests.conftest import make_settings
from tests.helpers.models import register_constants


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


def _three_versions(ws: Workspace) -> str:
    """A new model with versions 1, 2 and 3 (constants 1.0, 2.0, 3.0); its name."""
    name = f"f{uuid.uuid4().hex[:8]}"
    register_constants(ws, name, 1, 2, 3)
    return name


def test_each_committed_move_is_pushed_once_and_a_refused_one_never(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    name = _three_versions(ws)
    listener = Listener.open(ws.db)
    assert listener is not None
    try:
        before = time.time()
        ws.registry.promote(name, 1, wait_s=0)  # nobody acknowledges here
        ws.registry.promote(name, 2, wait_s=0)
        with pytest.raises(AliasMoved):
            ws.registry.promote(name, 3, expected=1, wait_s=0)  # rolled back: no notice
        ws.registry.rollback(name, wait_s=0)
        moves = _moves(listener, 1.0)
    finally:
        listener.close()
    assert len({m.event for m in moves}) == 3
    assert [(m.model, m.alias, m.version) for m in moves] == [
        (name, "champion", 1),
        (name, "champion", 2),
        (name, "champion", 1),
    ]
    assert all(m.sent_at is not None and before - 1 < m.sent_at < time.time() for m in moves)
    assert upcoming(ws.db, name, 1) == [2, 3]


def test_a_move_returns_once_the_listening_replicas_acknowledged_it(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    name = _three_versions(ws)
    listener = Listener.open(ws.db)
    assert listener is not None
    acked: list[tuple[int, float]] = []
    stop = threading.Event()

    def replica() -> None:  # acknowledges each move after a visible 0.2 s
        assert listener is not None
        while not stop.is_set():
            if select.select([listener], [], [], 0.05)[0]:
                for move in listener.drain():
                    time.sleep(0.2)
                    acked.append((move.version, time.time()))
                    listener.ack([move.event or 0])

    thread = threading.Thread(target=replica, daemon=True)
    thread.start()
    try:
        began = time.time()
        ws.models.promote(name, 1)
        returned = time.time()
        assert [v for v, _ in acked] == [1] and began + 0.2 <= acked[0][1] <= returned < began + 2
    finally:
        stop.set()
        thread.join(timeout=5)
    try:  # a replica that never answers delays the call by wait_s, no more
        began = time.time()
        ws.registry.promote(name, 2, wait_s=0.5)
        assert 0.5 <= time.time() - began < 2.5
    finally:
        listener.close()
    began = time.time()
    ws.models.promote(name, 3)  # no replica listens any more: no wait
    assert time.time() - began < 0.5


def test_sqlite_pushes_nothing_and_replicas_poll_there(sqlite_workspace: Workspace) -> None:
    assert Listener.open(sqlite_workspace.db) is None
