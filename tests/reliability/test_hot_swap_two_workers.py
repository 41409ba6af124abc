"""Hot swap at a paced load on ``modelyard serve --workers 2``, on SQLite, PostgreSQL and
MariaDB: 500 requests a second for 60 s (200 for 10 s in ``make test``) while 20
promotions and 5 rollbacks happen.

Version k of the model predicts exactly k, so every answer says which version made it.
Each answer must come from a version that was champion at some moment between the
request being sent and its answer being received: a move makes its version champion from
the moment its call began until the next move's call returned (a rollback makes the
previous version champion again). No request may fail, and once the last move returned
every worker answers with its version.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from tests.helpers import figures
from tests.helpers.models import register_constants
from tests.helpers.processes import started
from tests.helpers.server import free_port

pytestmark = pytest.mark.slow

RATE = figures.scale(200.0, 500.0)  # requests a second, all connections together
LOAD_S = figures.scale(10.0, 60.0)
CONNECTIONS = 16
PROMOTIONS = 20
ROLLED_BACK = (4, 8, 12, 16, 20)  # the promotion of each of these is rolled back at once
FIRST_MOVE_S = 1.0
LAST_MOVE_BEFORE_END_S = 2.0


@dataclass(frozen=True)
class Answer:
    connection: int
    start: float
    end: float
    status: int
    version: int | None


@dataclass(frozen=True)
class Move:
    version: int  # the champion once the move is made
    before: float  # wall time its call began
    committed: float  # wall time it returned (the replicas serve it by then)
    rollback: bool


def _plan() -> list[tuple[str, int]]:
    """The moves: promote 2..21, the promotions of ROLLED_BACK rolled back at once."""
    moves: list[tuple[str, int]] = []
    for version in range(2, PROMOTIONS + 2):
        moves.append(("promote", version))
        if version in ROLLED_BACK:
            moves.append(("rollback", version))
    return moves


def _client(
    url: str, key: str, connection: int, began: float, stop: threading.Event, out: list[Answer]
) -> None:
    """Send at RATE / CONNECTIONS a second on one keep-alive connection (at once when late)."""
    interval = CONNECTIONS / RATE
    due = began + connection * interval / CONNECTIONS
    mine: list[Answer] = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30.0) as client:
        while not stop.is_set():
            time.sleep(max(0.0, due - time.monotonic()))
            due += interval
            start = time.time()
            try:
                response = client.post(url, json={"data": [[float(connection)]]})
            except httpx.HTTPError:
                mine.append(Answer(connection, start, time.time(), 0, None))
                continue
            version = response.headers.get("x-model-version")
            answered = Answer(
                connection, start, time.time(), response.status_code, int(version or 0)
            )
            if response.status_code == 200:
                assert float(response.json()["predictions"][0]) == float(answered.version or -1)
            mine.append(answered)
    out.extend(mine)


def _champion_during(answer: Answer, moves: list[Move]) -> bool:
    """Whether the answer's version was champion at some moment of its request."""
    for index, move in enumerate(moves):
        if move.version != answer.version or move.before > answer.end:
            continue
        following = moves[index + 1] if index + 1 < len(moves) else None
        if following is None or following.committed >= answer.start:
            return True
    return False


def test_promotions_and_rollbacks_at_load_on_two_workers_drop_nothing(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    ws = workspace
    name = f"two{uuid.uuid4().hex[:8]}"
    last = PROMOTIONS + 1
    assert register_constants(ws, name, *range(1, last + 1)) == list(range(1, last + 1))
    ws.models.promote(name, 1)
    key = (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
    (tmp_path / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "{db_url}"\nartifacts = "{tmp_path / "artifacts"}"\n'
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = ("serve", "--port", str(port), "--workers", "2", "--endpoint", name)
    with started(tmp_path, *serve) as server:
        server.wait_ready(base, timeout=120)
        moves = [Move(1, 0.0, time.time(), False)]
        stop = threading.Event()
        answers: list[Answer] = []
        began = time.monotonic()
        clients = [
            threading.Thread(
                target=_client,
                args=(f"{base}/endpoints/{name}/score", key, c, began, stop, answers),
                daemon=True,
            )
            for c in range(CONNECTIONS)
        ]
        for thread in clients:
            thread.start()
        plan = _plan()
        every = (LOAD_S - FIRST_MOVE_S - LAST_MOVE_BEFORE_END_S) / (len(plan) - 1)
        for index, (kind, version) in enumerate(plan):
            time.sleep(max(0.0, began + FIRST_MOVE_S + index * every - time.monotonic()))
            before = time.time()
            if kind == "promote":
                ws.models.promote(name, version)
                champion = version
            else:
                ws.models.rollback(name, reason="battery: roll back at load")
                champion = version - 1
            moves.append(Move(champion, before, time.time(), kind == "rollback"))
        # the load goes on for LOAD_S, and at least a second after the last move returned
        # (on a busy machine the moves may run late)
        time.sleep(max(0.0, began + LOAD_S - time.monotonic(), 1.0))
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a client is stuck"
        took = time.monotonic() - began
        # SIGTERM: the supervisor stops its workers (after a SIGKILL they would serve on,
        # listening on the session's database, into the next tests)
        assert server.terminate() in (0, -15), server.output()

    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed, first: {failed[0]}"
    assert len(answers) > LOAD_S * CONNECTIONS, f"only {len(answers)} requests"
    assert ws.models.get(name).version == last
    wrong = [a for a in answers if not _champion_during(a, moves)]
    assert not wrong, f"{len(wrong)} answers from a version not champion then: {wrong[:3]}"
    settled = moves[-1].committed
    after = [a for a in answers if a.start > settled]
    assert after and all(a.version == last for a in after), "not every worker swapped"
    rollbacks = sum(m.rollback for m in moves)
    calls = sorted((m.committed - m.before) * 1000 for m in moves[1:])
    figures.record(
        f"Hot swap at a paced load on 2 workers ({ws.db.dialect})",
        load=(
            f"`serve --workers 2`, {CONNECTIONS} connections paced to {RATE:g} req/s for "
            f"{LOAD_S:g} s: {len(answers):,} requests ({len(answers) / took:.0f} req/s)"
        ),
        faults=f"{len(moves) - 1 - rollbacks} promotions and {rollbacks} rollbacks",
        result=(
            f"0 failed; every answer from a version champion during its request; "
            f"{len(after):,} answers after the last move, all from v{last}; move calls "
            f"(each returns once both workers serve it): median {calls[len(calls) // 2]:.0f} "
            f"ms, max {calls[-1]:.0f} ms"
        ),
        passed=True,
    )
