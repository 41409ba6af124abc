"""The collection writer process: a server's collector hands its batches to a process of
its own, which never sees the database URL on its command line or in its environment, is
started again when it dies (the batch it was given is sent again), exits when its serving
process dies, and reports rows the store refuses so that they are dropped and counted."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.monitoring import wire
from modelyard.monitoring.collector import Collector
from modelyard.monitoring.observation import Observation
from modelyard.monitoring.writer import WriterProcess
from modelyard.monitoring.writing import InProcess
from modelyard.storage.schema import utcnow
from tests.conftest import PG_ADMIN_URL, _server_database, make_settings
from tests.helpers.monitoring import until

CANARY = "canary-pw-7f3a9"


@pytest.fixture
def monitoring_db() -> Iterator[str]:
    """A PostgreSQL database of its own, reached with a password (trust auth ignores it)."""
    for url in _server_database(PG_ADMIN_URL, "PostgreSQL"):
        yield sa.make_url(url).set(password=CANARY).render_as_string(hide_password=False)


def observation(n: int, *, version: object = 1) -> Observation:
    return Observation(
        endpoint="churn",
        request_id=f"r{n}",
        scored_at=utcnow() - timedelta(seconds=1),
        version=version,  # type: ignore[arg-type]  # a bad one, on purpose, below
        inputs={"age": np.array([30.0 + n]), "plan": np.array(["gold"], dtype=object)},
        outputs=np.array([[0.25, 0.75]], dtype=np.float32),
        classes=[0, 1],
        latency_ms=1.0,
    )


def writer_pid(collector: Collector) -> int | None:
    pid: int | None = getattr(collector.sink, "pid", None)
    return pid


def stored(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT request_id FROM collected_rows ORDER BY id").scalars()
        out = list(ids)
    engine.dispose()
    return out


def test_a_server_collector_writes_in_its_own_process_that_never_shows_the_url(
    tmp_path: Path, monitoring_db: str
) -> None:
    ws = Workspace(
        make_settings(
            tmp_path, f"sqlite:///{tmp_path / 'r.db'}", monitoring={"database_url": monitoring_db}
        )
    )
    collector = ws.monitoring.collector(writer_process=True)
    collector.start()
    try:
        for n in range(5):
            assert collector.offer(observation(n))
        assert collector.flush()
        pid = writer_pid(collector)
        assert pid is not None and pid != os.getpid()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert command[1:3] == [b"-m", b"modelyard.monitoring.writer"]
        assert CANARY.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert CANARY.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        assert stored(monitoring_db) == [f"r{n}" for n in range(5)]
        assert collector.stats().written == 5
    finally:
        collector.stop()
        ws.close()
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_killed_writer_is_started_again_and_no_row_is_lost(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ws = Workspace(make_settings(tmp_path, url))
    collector = ws.monitoring.collector(writer_process=True)
    collector.start()
    try:
        collector.offer(observation(0))
        assert collector.flush()
        first = writer_pid(collector)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10  # dead before the next batch: found at its start
        while Path(f"/proc/{first}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for n in range(1, 4):
            collector.offer(observation(n))
        assert collector.flush(timeout_s=30)
        second = writer_pid(collector)
        assert second is not None and second != first
        stats = collector.stats()
        assert stats.written == 4 and stats.dropped == 0 and stats.failures >= 1
        assert "collection writer process exited" in (stats.last_error or "")
        assert stored(url) == ["r0", "r1", "r2", "r3"]
    finally:
        collector.stop()
        ws.close()


def test_rows_the_store_refuses_are_dropped_and_counted_and_writing_goes_on(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ws = Workspace(make_settings(tmp_path, url))
    collector = ws.monitoring.collector(writer_process=True)
    collector.start()
    try:
        collector.offer(observation(0, version="not a number"))
        assert collector.flush(timeout_s=30)
        stats = collector.stats()
        assert stats.written == 0 and stats.dropped == 1
        assert "ArrowInvalid" in (stats.last_error or "")
        collector.offer(observation(1))
        assert collector.flush()
        assert collector.stats().written == 1
        assert stored(url) == ["r1"]
    finally:
        collector.stop()
        ws.close()


SERVING = """
import sys, time
import numpy as np
from modelyard import Workspace
from modelyard.monitoring.observation import Observation
from modelyard.monitoring.writer import WriterProcess
from modelyard.monitoring.writing import InProcess
from modelyard.storage.schema import utcnow
from tests.conftest import make_settings
from pathlib import Path
root = Path(sys.argv[1])
ws = Workspace(make_settings(root, f"sqlite:///{root / 'r.db'}"))
collector = ws.monitoring.collector(writer_process=True)
collector.start()
collector.offer(Observation("e", "r0", utcnow(), inputs={"x": np.array([1.0])},
                            outputs=np.array([2.0])))
assert collector.flush()
print(collector.sink.pid, flush=True)
time.sleep(600)
"""


def test_the_writer_exits_when_its_serving_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "serving.py"
    script.write_text(textwrap.dedent(SERVING))
    serving = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert serving.stdout is not None
        pid = int(serving.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
        serving.kill()
        serving.wait()
        until(lambda: _zombie(pid), timeout=10)  # its stdin ended: it exits at once
    finally:
        serving.kill()
        serving.wait()


@pytest.mark.parametrize(
    ("url", "separate"),
    [("sqlite://", False), ("sqlite:///:memory:", False), ("sqlite:///{root}/r.db", True)],
)
def test_only_a_database_another_process_can_open_gets_a_writer_process(
    tmp_path: Path, url: str, separate: bool
) -> None:
    ws = Workspace(make_settings(tmp_path, url.format(root=tmp_path)))
    try:
        assert ws.db.in_memory is not separate
        sink = ws.monitoring.collector(writer_process=True).sink
        assert isinstance(sink, WriterProcess) is separate
        assert isinstance(sink, InProcess) is not separate
        assert isinstance(ws.monitoring.collector().sink, InProcess)  # the SDK's default
    finally:
        ws.close()


def test_the_writer_command_answers_each_batch_and_exits_0_at_the_end_of_its_input() -> None:
    settings = {
        "url": f"postgresql+psycopg://nobody:{CANARY}@127.0.0.1:1/none",
        "busy_timeout_s": 1.0,
    }
    record = wire.encode(observation(0))
    stream = io.BytesIO()
    wire.write_frame(stream, orjson.dumps(settings))
    wire.write_frame(stream, wire.batch([record]))
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.monitoring.writer"],
        input=stream.getvalue(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (answer,) = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert answer["error"] == "store" and "127.0.0.1:1" in answer["message"]
    assert CANARY not in done.stdout.decode() + done.stderr.decode()  # redacted
    empty = subprocess.run(
        [sys.executable, "-m", "modelyard.monitoring.writer"],
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (empty.returncode, empty.stdout) == (0, b"")
