"""A scheduler + worker process for the leader-election test: runs until killed."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from modelyard import Workspace
from modelyard.config.settings import Settings


def main() -> None:
    registry_url, data_url, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    declaration = json.loads(sys.argv[4])
    settings = Settings.from_mapping(
        {
            "registry": {"database_url": registry_url, "artifacts": str(root / "artifacts")},
            "sources": {"immo_db": {"url": data_url}},
            "trainings": {"immo": declaration},
        },
        root=root,
        env={},
    )
    ws = Workspace(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = ws.queue.scheduler(lease_s=3.0, tick_s=0.25)
    worker = ws.queue.worker(heartbeat_s=1.0, poll_s=0.2)
    threading.Thread(target=worker.run, args=(stop,), daemon=True).start()
    print(scheduler.holder, flush=True)
    scheduler.run(stop)


if __name__ == "__main__":
    main()
