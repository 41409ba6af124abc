"""The collection writer process: a serving process hands it batches of records and it
writes them, so that none of that work takes the serving process's interpreter lock.

Turning a thousand records into rows with their inputs as JSON, a columnar block and an
``executemany`` took the serving process a fifth of its request rate when it ran in a
thread beside the event loop: its Python work took the lock, and each row the driver bound
handed the lock back and forth. In its own process it runs on another core.

    serving process (collector thread)        writer process
      frame: {"url": ..., "busy_timeout_s"} ->  opens the collection store
      frame: [record, record, ...]          ->  rows + block, one transaction
                                            <-  {"ok": true} | {"error": "store"|"rows", ...}

Frames travel on the child's stdin (their length, then the bytes: ``monitoring.wire``);
answers come back one JSON line each on its stdout (anything else the child prints goes
to stderr). The database URL travels in the first frame, never in the command line or
the environment. The child exits at the end of its stdin (the serving process closed it,
or died), and checks every second that its parent is still the one that started it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from typing import IO

import orjson

from modelyard.config.secret import SecretURL
from modelyard.errors import ModelyardError, StorageError
from modelyard.monitoring import wire
from modelyard.monitoring.writing import write_observations
from modelyard.storage.collection import CollectionStore
from modelyard.storage.engine import Database

log = logging.getLogger("modelyard.monitoring")
PARENT_CHECK_S = 1.0


class RowsRefused(Exception):  # what the child said, raised in the parent
    """The store answered but refused the rows themselves (they are dropped and counted)."""


class WriterProcess:
    """The serving side: starts the child on first use, hands it each batch and waits for
    its answer; a child that died is started again on the next batch."""

    def __init__(self, url: SecretURL, *, busy_timeout_s: float = 60.0) -> None:
        self._url = url
        self._busy_timeout_s = busy_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id, while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def __call__(self, records: list[bytes]) -> None:
        """Write ``records`` (one batch, one transaction). Raises ``StorageError`` when the
        store cannot take them now (or the child died: the batch is to be sent again) and
        ``RowsRefused`` when the store refused the rows themselves."""
        with self._lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            try:
                wire.write_frame(process.stdin, wire.batch(records))
                line = process.stdout.readline()
            except (BrokenPipeError, ConnectionResetError, ValueError):
                line = b""
            if not line:
                raise StorageError(f"the collection writer process exited ({self._lost()})")
        answer = orjson.loads(line)
        if answer.get("ok"):
            return
        message = str(answer.get("message") or "unknown error")
        if answer.get("error") == "store":
            raise StorageError(message)
        raise RowsRefused(message)

    def close(self, timeout_s: float = 5.0) -> None:
        """End the child's input (it exits once its current batch is written); kill it if
        it has not exited within ``timeout_s`` (which also ends a write waiting on it)."""
        process, self._process = self._process, None  # not under the lock: a write holds it
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _started(self) -> subprocess.Popen[bytes]:
        process = self._process
        if process is not None:
            if process.poll() is None:
                return process
            # died between batches (killed, out of memory): said and counted like a death
            # during a write; the batch is sent again, to the one the next call starts
            raise StorageError(f"the collection writer process exited ({self._lost()})")
        try:
            process = subprocess.Popen(  # our own module, our own interpreter
                [sys.executable, "-m", "modelyard.monitoring.writer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert process.stdin is not None
            settings = {"url": self._url.reveal(), "busy_timeout_s": self._busy_timeout_s}
            wire.write_frame(process.stdin, orjson.dumps(settings))
        except (OSError, ValueError) as exc:
            raise StorageError(f"the collection writer process could not start: {exc}") from None
        self._process = process
        return process

    def _lost(self) -> str:
        process, self._process = self._process, None
        if process is None:
            return "not started"
        with contextlib.suppress(OSError, ValueError):
            assert process.stdin is not None and process.stdout is not None
            process.stdin.close()
            process.stdout.close()
        try:
            code = process.wait(5.0)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        return f"exit code {code}; it is started again for the next batch"


def _watch_parent(parent: int) -> None:
    """Exit at once if the process that started this one is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _answer(out: IO[bytes], answer: dict[str, object]) -> None:
    out.write(orjson.dumps(answer) + b"\n")
    out.flush()


def main() -> None:
    """The child: read the settings, then write each batch and answer for it."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    source = sys.stdin.buffer
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    first = wire.read_frame(source)
    if first is None:
        return
    settings = orjson.loads(first)
    db = Database(SecretURL(settings["url"]), sqlite_busy_timeout_s=settings["busy_timeout_s"])
    store = CollectionStore(db)
    try:
        while (frame := wire.read_frame(source)) is not None:
            try:
                write_observations(store, wire.decode_batch(frame))
            except ModelyardError as exc:
                _answer(out, {"error": "store", "message": exc.message})
            except Exception as exc:  # rows that cannot be stored: said, dropped by the parent
                log.exception("collection: a batch could not be written")
                _answer(out, {"error": "rows", "message": f"{type(exc).__name__}: {exc}"})
            else:
                _answer(out, {"ok": True})
    finally:
        db.engine.dispose()


if __name__ == "__main__":
    main()
