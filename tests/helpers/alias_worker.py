"""A child process of tests/reliability/test_promotion_race.py: moves or reads one model's champion.

    python alias_worker.py writer DB_URL ARTIFACTS ROOT NAME CONTROL_DIR INDEX --ops N --seed S
    python alias_worker.py reader DB_URL ARTIFACTS ROOT NAME CONTROL_DIR INDEX

Both open their own workspace, write ``CONTROL_DIR/ready-ROLE-INDEX`` and wait for
``CONTROL_DIR/go`` (the start barrier), then:

* a writer runs ``--ops`` random ``promote(name, existing version)`` / ``rollback(name)``
  calls and prints one JSON object with the ids of the events it wrote and its counts;
* a reader reads the champion in a loop until ``CONTROL_DIR/writers-done`` exists and
  prints one JSON object with how many reads returned which version, and any anomaly.

Anything unexpected is raised: the process then exits non-zero with a traceback.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.errors import NothingToRollBack
from modelyard.types import DEFAULT_ALIAS


def _wait_for(path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout_s} s")
        time.sleep(0.005)


def _writer(
    ws: Workspace, name: str, versions: list[int], ops: int, seed: int
) -> dict[str, object]:
    rng = random.Random(seed)
    promoted: list[int] = []
    rolled_back: list[int] = []
    noop = 0
    nothing = 0
    for _ in range(ops):
        if rng.random() < 0.6:
            version = rng.choice(versions)
            event = ws.models.promote(name, version, reason="stress")
            if event is None:
                noop += 1
            else:
                if event.to_version != version or event.kind != "promoted":
                    raise AssertionError(f"promote({version}) returned {event}")
                promoted.append(event.id)
        else:
            try:
                event = ws.models.rollback(name, reason="stress")
            except NothingToRollBack:
                nothing += 1
            else:
                if event.kind != "rolled_back":
                    raise AssertionError(f"rollback returned {event}")
                rolled_back.append(event.id)
    return {
        "promoted": promoted,
        "rolled_back": rolled_back,
        "noop": noop,
        "nothing_to_roll_back": nothing,
    }


def _reader(ws: Workspace, name: str, versions: list[int], done: Path) -> dict[str, object]:
    seen: Counter[int] = Counter()
    anomalies: list[str] = []
    while True:
        finished = done.exists()  # checked before the read, so one read follows the writers
        current = ws.models.get(name)  # the champion
        seen[current.version] += 1
        if current.version not in versions:
            anomalies.append(f"champion is version {current.version}, which does not exist")
        if current.aliases.count(DEFAULT_ALIAS) != 1:
            anomalies.append(f"version {current.version} came back with aliases {current.aliases}")
        if finished:
            break
    return {"reads": sum(seen.values()), "seen": dict(seen), "anomalies": anomalies[:20]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("writer", "reader"))
    parser.add_argument("db_url")
    parser.add_argument("artifacts")
    parser.add_argument("root")
    parser.add_argument("name")
    parser.add_argument("control", type=Path)
    parser.add_argument("index", type=int)
    parser.add_argument("--ops", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = Settings.from_mapping(
        {"registry": {"database_url": args.db_url, "artifacts": args.artifacts}},
        root=Path(args.root),
        env={},
    )
    with Workspace(settings) as ws:
        versions = [v.version for v in ws.models.versions(args.name)]
        (args.control / f"ready-{args.role}-{args.index}").touch()
        _wait_for(args.control / "go")
        if args.role == "writer":
            result = _writer(ws, args.name, versions, args.ops, args.seed)
        else:
            result = _reader(ws, args.name, versions, args.control / "writers-done")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
