"""Alias moves followed by polling, on every database: one generation per committed move,
none for a refused one, and a move returns once the live replicas serve its generation."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.errors import AliasMoved
from modelyard.storage import replicas, schema
from modelyard.storage.schema import utcnow
from tests.helpers.models import register_constants


def test_each_committed_move_bumps_the_generation_once_and_a_refused_one_never(
    workspace: Workspace,
) -> None:
    ws = workspace
    name = f"g{uuid.uuid4().hex[:8]}"
    register_constants(ws, name, 1, 2, 3)
    start = replicas.generation(ws.db).number
    ws.registry.promote(name, 1, wait_s=0)
    ws.registry.promote(name, 2, wait_s=0)
    ws.registry.promote(name, 2, wait_s=0)  # already there: no move
    with pytest.raises(AliasMoved):
        ws.registry.promote(name, 3, expected=1, wait_s=0)  # refused: rolled back
    ws.registry.rollback(name, wait_s=0)
    now = replicas.generation(ws.db)
    assert now.number == start + 3
    assert now.moved_at is not None and abs((utcnow() - now.moved_at).total_seconds()) < 30
    pointers = [(p.model, p.alias, p.version) for p in replicas.pointers(ws.db)]
    assert (name, "champion", 1) in pointers


def test_a_move_returns_once_the_live_replicas_serve_its_generation(
    workspace: Workspace,
) -> None:
    ws = workspace
    name = f"g{uuid.uuid4().hex[:8]}"
    register_constants(ws, name, 1, 2, 3)
    replica = replicas.join(ws.db)
    served: list[tuple[int, float]] = []
    stop = threading.Event()

    first = replicas.generation(ws.db).number  # read here: the thread may start late

    def follow() -> None:  # serves each new generation after a visible 0.2 s, and beats
        seen = first
        beaten = time.monotonic()
        while not stop.wait(0.01):
            if time.monotonic() - beaten > 0.5:  # as a replica does: not beating is dying
                replicas.beat(ws.db, replica, seen)
                beaten = time.monotonic()
            number = replicas.generation(ws.db).number
            if number != seen:
                time.sleep(0.2)
                served.append((number, time.time()))
                replicas.acknowledge(ws.db, replica, number)
                seen = number

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        replicas.beat(ws.db, replica, 0)  # live now, however long the set-up took
        began = time.time()
        ws.models.promote(name, 1)
        returned = time.time()
        assert len(served) == 1 and began + 0.2 <= served[0][1] <= returned < began + 3
    finally:
        stop.set()
        thread.join(timeout=5)

    replicas.beat(ws.db, replica, 1)  # live (beaten within LIVE_S), however slow the machine
    began = time.time()  # a live replica that never answers delays the call by wait_s
    ws.registry.promote(name, 2, wait_s=0.5)
    assert 0.5 <= time.time() - began < 2.5

    silent = utcnow() - timedelta(seconds=replicas.LIVE_S + 1)
    ws.db.write(  # a replica that died: it stopped beating
        lambda conn: conn.execute(
            sa.update(schema.replicas).where(schema.replicas.c.id == replica).values(seen_at=silent)
        )
    )
    began = time.time()
    ws.models.promote(name, 3)
    assert time.time() - began < 1.0, "a dead replica was waited for"

    replicas.beat(ws.db, replica, 0)  # it came back: waited for again, until it leaves
    began = time.time()
    ws.registry.promote(name, 1, wait_s=0.3)
    assert time.time() - began >= 0.3
    replicas.leave(ws.db, replica)
    began = time.time()
    ws.models.promote(name, 2)
    assert time.time() - began < 1.0, "a replica that left was waited for"


def test_a_replica_whose_row_was_deleted_comes_back_with_what_it_serves(
    sqlite_workspace: Workspace,
) -> None:
    db = sqlite_workspace.db
    replica = replicas.join(db)
    replicas.acknowledge(db, replica, 7)
    replicas.acknowledge(db, replica, 5)  # late: never goes back
    assert replicas.lagging(db, 7) == 0
    db.write(lambda conn: conn.execute(sa.delete(schema.replicas)))
    replicas.beat(db, replica, 7)
    assert replicas.lagging(db, 7) == 0 and replicas.lagging(db, 8) == 1


def test_the_generation_watch_follows_each_move_over_one_held_connection(
    workspace: Workspace,
) -> None:
    ws = workspace
    name = f"g{uuid.uuid4().hex[:8]}"
    register_constants(ws, name, 1, 2)
    checkouts: list[object] = []

    def count(*args: object) -> None:
        checkouts.append(args)

    watch = replicas.GenerationWatch(ws.db)
    sa.event.listen(ws.db.engine, "checkout", count)
    try:
        assert watch.number() == replicas.generation(ws.db).number
        for version in (1, 2, 1):
            ws.registry.promote(name, version, wait_s=0)
            # the committed move is seen at once: each poll is its own transaction
            assert watch.number() == replicas.generation(ws.db).number
        before = len(checkouts)
        for _ in range(20):
            watch.number()
        assert len(checkouts) == before  # polls take no connection from the pool
    finally:
        sa.event.remove(ws.db.engine, "checkout", count)
        watch.close()


def test_the_generation_watch_says_the_database_failed_then_connects_again(
    tmp_path: Path,
) -> None:
    from modelyard.config.secret import SecretURL
    from modelyard.errors import StorageError
    from modelyard.storage.engine import Database

    db = Database(SecretURL(f"sqlite:///{tmp_path}/bare.db"))  # no tables yet
    watch = replicas.GenerationWatch(db)
    try:
        with pytest.raises(StorageError, match="alias_generation"):
            watch.number()
        db.write(lambda conn: schema.metadata.create_all(conn, tables=[schema.alias_generation]))
        assert watch.number() == 0  # a new connection, a table without its row yet
        db.write(lambda conn: replicas.bump(conn))
        assert watch.number() == 1
    finally:
        watch.close()
        db.dispose()
