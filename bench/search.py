"""A hyper-parameter search on Ray: wall time with 2 Ray workers against 1.

    .venv/bin/python bench/search.py [--rows 100000] [--trials 8] [--estimators 400]

Seed 003's churn training (one-hot + scaler + XGBoost, one thread per fit) searches a grid
of ``--trials`` depths, on a fresh ``ray start --head`` cluster with one CPU slot (one trial
at a time), then on one with two. Each cluster is a real token-authenticated cluster on
127.0.0.1, as in the tests. On each, the training runs twice through the same workspace:
the first (cold) run also starts Ray's client server and worker processes, which import
modelyard, pandas and XGBoost; the second (warm) run finds them, as every run after the
first of a long-lived `modelyard worker` does. Prints the search stage's seconds (the
trials), the whole run's, and the ratios (target: >= 1.7x for the warm search with 2
workers on 2 free cores).
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
from modelyard.config.settings import Settings
from modelyard.storage.runs import Run
from modelyard.training.demo_data import churn_training

DEPTHS = (3, 4, 5, 6, 7, 8, 2, 9)


def settings(root: Path, source: str, args: argparse.Namespace, **executor: str) -> Settings:
    """A SQLite workspace whose churn training searches ``args.trials`` depths on Ray."""
    params = {"n_estimators": args.estimators, "n_jobs": 1, "random_state": 0}
    search = {"method": "grid", "space": {"max_depth": list(DEPTHS[: args.trials])}}
    raw = {
        "registry": {"database_url": f"sqlite:///{root / 'registry.db'}"},
        "sources": {"bank": {"url": source}},
        "trainings": {"churn": churn_training("bank", "churn", params=params, search=search)},
        **({"executor": executor} if executor else {}),
    }
    return Settings.from_mapping(raw, root=root, env={})


def timed(ws: Workspace) -> tuple[float, float, Run]:
    """(search stage seconds, whole run seconds, the run)."""
    started = time.perf_counter()
    run = ws.trainings.run("churn", trigger="bench")
    took = time.perf_counter() - started
    assert run.state.value == "succeeded", run.error
    search = next(stage["seconds"] for stage in run.stages if stage["name"] == "search")
    return float(search), took, run


def on_cluster(root: Path, source: str, args: argparse.Namespace, workers: int) -> list[float]:
    """[cold search, cold run, warm search, warm run] seconds on a fresh cluster."""
    with ray_cluster(num_cpus=workers) as (address, token):
        ws = Workspace(settings(root, source, args, kind="ray", address=address, token=token))
        try:
            cold_search, cold_run, _ = timed(ws)
            warm_search, warm_run, run = timed(ws)
        finally:
            ws.close()
    summed = sum(float(trial["seconds"]) for trial in run.trials)
    seen = len({trial["worker"] for trial in run.trials})
    print(
        f"{workers} Ray worker(s): cold search {cold_search:6.2f} s (run {cold_run:6.2f} s), "
        f"warm search {warm_search:6.2f} s (run {warm_run:6.2f} s); warm trials "
        f"{summed:.2f} s summed over {seen} worker processes"
    )
    return [cold_search, cold_run, warm_search, warm_run]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=8, choices=range(1, len(DEPTHS) + 1))
    parser.add_argument("--estimators", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        base = Path(folder)
        source = f"sqlite:///{base / 'bank.db'}"
        with Workspace(settings(base, source, args)) as data:
            data.sources.demo_data("churn", "bank", args.rows, replace=True)
        print(f"churn: {args.rows} rows, {args.trials} trials of XGBoost ({args.estimators} trees)")
        results = []
        for workers in (1, 2):
            (base / f"w{workers}").mkdir()
            results.append(on_cluster(base / f"w{workers}", source, args, workers))
    one, two = results
    print(
        f"2 workers vs 1: warm search {one[2] / two[2]:.2f}x faster (run {one[3] / two[3]:.2f}x), "
        f"cold search {one[0] / two[0]:.2f}x (run {one[1] / two[1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
