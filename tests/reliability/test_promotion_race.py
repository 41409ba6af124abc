"""Stress: 8 processes promote and roll back one model while 4 processes read its champion
(200 moves in ``make test``, 1,000 in ``make test-reliability``).

Real processes on each real database (SQLite, PostgreSQL, MariaDB), no mocks. The
event log must tell the exact story: no lost or doubled move, an unbroken alias
chain, and readers that always see exactly one existing champion.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelyard import Workspace
from tests.conftest import make_settings
from tests.helpers import figures
from tests.helpers.models import fitted_immo

WORKER = Path(__file__).resolve().parents[1] / "helpers" / "alias_worker.py"
NAME = "immo"
VERSIONS = 5
WRITERS = 8
READERS = 4
OPS_PER_WRITER = int(figures.scale(25, 125))  # 200 moves in all, 1,000 in the full battery
MOVES = ("promoted", "rolled_back")


def _spawn(args: list[str], logs: Path, label: str) -> subprocess.Popen[bytes]:
    with (logs / f"{label}.out").open("wb") as out, (logs / f"{label}.err").open("wb") as err:
        return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=out, stderr=err)


def _wait_all(procs: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for label, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs.values():
                other.kill()
            pytest.fail(f"{label} did not finish within {timeout_s} s")


def _events(db_url: str) -> list[sa.Row[tuple[int, str, str | None, int | None, int | None]]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT id, kind, alias, from_version, to_version FROM events ORDER BY id"
                    )
                )
            )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_concurrent_promote_and_rollback_keep_one_exact_history(
    tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(tmp_path, db_url)
    with Workspace(settings) as ws:
        for seed in range(VERSIONS):
            model, frame = fitted_immo(seed=seed)
            ws.models.register(NAME, model, input_example=frame)
        assert ws.models.promote(NAME, 1) is not None
    setup_events = _events(db_url)
    last_setup_id = setup_events[-1].id

    control = tmp_path / "control"
    logs = tmp_path / "logs"
    control.mkdir()
    logs.mkdir()
    common = [db_url, str(settings.artifacts), str(tmp_path), NAME, str(control)]
    writers = {
        f"writer-{i}": _spawn(
            ["writer", *common, str(i), "--ops", str(OPS_PER_WRITER), "--seed", str(1000 + i)],
            logs,
            f"writer-{i}",
        )
        for i in range(WRITERS)
    }
    readers = {
        f"reader-{i}": _spawn(["reader", *common, str(i)], logs, f"reader-{i}")
        for i in range(READERS)
    }
    everyone = {**writers, **readers}

    # The start barrier: every child has imported modelyard and opened its workspace.
    deadline = time.monotonic() + 90
    while len(list(control.glob("ready-*"))) < len(everyone):
        crashed = [label for label, proc in everyone.items() if proc.poll() is not None]
        if crashed or time.monotonic() > deadline:
            for proc in everyone.values():
                proc.kill()
            details = {label: (logs / f"{label}.err").read_text()[-2000:] for label in crashed}
            pytest.fail(f"children not ready (exited early: {details})")
        time.sleep(0.02)
    started = time.monotonic()
    (control / "go").touch()
    _wait_all(writers, timeout_s=120)
    writing_s = time.monotonic() - started
    (control / "writers-done").touch()
    _wait_all(readers, timeout_s=60)

    stderr = {label: (logs / f"{label}.err").read_text() for label in everyone}
    for label, proc in everyone.items():
        assert proc.returncode == 0, f"{label} exited {proc.returncode}:\n{stderr[label][-3000:]}"
    for label, text in stderr.items():
        assert "locked" not in text.lower(), f"{label} wrote:\n{text[-3000:]}"
    results = {label: json.loads((logs / f"{label}.out").read_text()) for label in everyone}

    # Readers: every read returned exactly one champion, an existing version.
    reads = 0
    for label in readers:
        result = results[label]
        assert result["anomalies"] == [], f"{label}: {result['anomalies']}"
        assert result["reads"] >= 1
        assert {int(v) for v in result["seen"]} <= set(range(1, VERSIONS + 1))
        reads += result["reads"]

    # Writers: each did its operations, and the events they reported are exactly the
    # moves the log holds after the setup: none lost, none doubled, none invented.
    reported: list[int] = []
    nothing_to_roll_back = noop = 0
    for label in writers:
        result = results[label]
        done = (
            len(result["promoted"])
            + len(result["rolled_back"])
            + result["noop"]
            + result["nothing_to_roll_back"]
        )
        assert done == OPS_PER_WRITER, f"{label}: {result}"
        reported += result["promoted"] + result["rolled_back"]
        nothing_to_roll_back += result["nothing_to_roll_back"]
        noop += result["noop"]
    events = _events(db_url)
    moves = [e for e in events if e.id > last_setup_id and e.kind in MOVES]
    assert len(moves) == len(reported)
    assert sorted(e.id for e in moves) == sorted(reported)
    assert [e for e in events if e.id > last_setup_id and e.kind not in MOVES] == []

    # The log tells the exact sequence: an unbroken chain of champion moves ...
    chain = [e for e in events if e.alias == "champion"]
    assert chain[0].kind == "promoted" and chain[0].from_version is None
    assert chain[0].to_version == 1
    for before, after in pairwise(chain):
        assert after.from_version == before.to_version, f"chain broken between {before} {after}"
        assert after.from_version != after.to_version, f"a move to where it was: {after}"
    # ... where each rollback returned to what the last promotion to its version replaced.
    for index, event in enumerate(chain):
        if event.kind == "rolled_back":
            last_promotion = next(
                e
                for e in reversed(chain[:index])
                if e.kind == "promoted" and e.to_version == event.from_version
            )
            assert event.to_version == last_promotion.from_version, (event, last_promotion)
    # ... ending where the champion is now.
    with Workspace(settings) as ws:
        assert ws.models.get(NAME).version == chain[-1].to_version
        history = [e.id for e in ws.models.history(NAME, alias="champion")]
    assert history == [e.id for e in chain]

    database = sa.make_url(db_url).get_backend_name()
    figures.record(
        f"Concurrent promote/rollback ({database})",
        load=f"{WRITERS} writer and {READERS} reader processes, {WRITERS * OPS_PER_WRITER:,} calls",
        faults="every call racing the others",
        result=(
            f"{len(moves)} moves in {writing_s:.1f} s ({noop} promotions to the champion, "
            f"{nothing_to_roll_back} nothing to roll back); {reads:,} reads, none saw 0 or 2 "
            "champions; the events tell one linear history"
        ),
        passed=True,
    )
