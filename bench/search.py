"""A hyper-parameter search on Ray: wall time with 2 Ray workers against 1, one run each.

    .venv/bin/python bench/search.py [--rows 50000] [--trials 8] [--estimators 400]

Seed 003's churn training (one-hot + scaler + XGBoost, one thread per fit) searches a grid
of ``--trials`` parameter sets, once on a fresh ``ray start --head`` cluster with one CPU
slot (one trial at a time), once on one with two. Each cluster is a real token-authenticated
cluster on 127.0.0.1, as in the tests. Prints the search stage's seconds (the trials) and
the whole run's for each, and the ratio (target: >= 1.7x with 2 workers on 2 free cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers, from the repo

from tests.helpers.ray_cluster import ray_cluster

from modelyard import Workspace
from modelyard.config import Settings
from modelyard.training.demo_data import churn_training

DEPTHS = (3, 4, 5, 6, 7, 8, 2, 9)


def settings(root: Path, trials: int, estimators: int, address: str, token: str) -> Settings:
    """A SQLite workspace whose churn training searches ``trials`` depths x 1 rate on Ray."""
    params = {"n_estimators": estimators, "n_jobs": 1, "random_state": 0}
    search = {"method": "grid", "space": {"max_depth": list(DEPTHS[:trials])}}
    training = churn_training("bank", "churn", params=params, search=search)
    raw = {
        "registry": {"database_url": f"sqlite:///{root / 'registry.db'}"},
        "sources": {"bank": {"url": f"sqlite:///{root.parent / 'bank.db'}"}},
        "trainings": {"churn": training},
        "executor": {"kind": "ray", "address": address, "token": token},
    }
    return Settings.from_mapping(raw, root=root, env={})


def one_run(root: Path, args: argparse.Namespace, workers: int) -> tuple[float, float, float, int]:
    """(search seconds, run seconds, trial seconds summed, distinct Ray workers) of one run
    on a fresh cluster."""
    with ray_cluster(num_cpus=workers) as (address, token):
        ws = Workspace(settings(root, args.trials, args.estimators, address, token))
        try:
            started = time.perf_counter()
            run = ws.trainings.run("churn", trigger="bench")
            took = time.perf_counter() - started
        finally:
            ws.close()
    assert run.state.value == "succeeded", run.error
    search = next(stage["seconds"] for stage in run.stages if stage["name"] == "search")
    fitting = sum(float(trial["seconds"]) for trial in run.trials)
    return float(search), took, fitting, len({trial["worker"] for trial in run.trials})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--trials", type=int, default=8, choices=range(1, len(DEPTHS) + 1))
    parser.add_argument("--estimators", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        base = Path(folder)
        data = Workspace(
            Settings.from_mapping(
                {
                    "registry": {"database_url": f"sqlite:///{base / 'data-registry.db'}"},
                    "sources": {"bank": {"url": f"sqlite:///{base / 'bank.db'}"}},
                },
                root=base,
                env={},
            )
        )
        data.sources.demo_data("churn", "bank", args.rows, replace=True)
        data.close()
        print(f"churn: {args.rows} rows, {args.trials} trials of XGBoost ({args.estimators} trees)")
        results: dict[int, tuple[float, float, float, int]] = {}
        for workers in (1, 2):
            (base / f"w{workers}").mkdir()
            results[workers] = one_run(base / f"w{workers}", args, workers)
            search, total, fitting, seen = results[workers]
            print(
                f"{workers} Ray worker(s): search {search:7.2f} s, run {total:7.2f} s "
                f"(trials {fitting:.2f} s summed, {seen} workers seen)"
            )
    ratio_search = results[1][0] / results[2][0]
    ratio_run = results[1][1] / results[2][1]
    print(f"2 workers vs 1: search {ratio_search:.2f}x faster, whole run {ratio_run:.2f}x")


if __name__ == "__main__":
    main()
