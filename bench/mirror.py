"""Benchmark: what a mirror costs the answers clients get, in one run. It prints figures
and asserts nothing.

    .venv/bin/python bench/mirror.py [--duration 10] [--rounds 3] [--connections 8]
        [--loadgen auto|wrk|python] [--percent 100]

One ``modelyard serve`` process (one worker) serves seed 003's churn model (one-hot +
scaler + XGBoost, fitted as bench/serve.py fits it) at two endpoints on the same champion:
``plain`` mirrors nothing, ``mirrored`` mirrors ``--percent`` of its requests (100 by
default) to a challenger (the same pipeline fitted on other rows). Single-row requests
load each endpoint in turn, ``--rounds`` times, ``--duration`` seconds each after a
warm-up, with the generator of bench/serve.py (wrk when installed, else bench/loadgen.py).
The champion's p99 latency with the mirror on is compared with it off (median of the
rounds); the target is on / off <= 1.15. The comparisons the mirror recorded are counted
afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import BIN, Request, fit_models, free_port, launch, load, records, say, tree_cpu_s
from sklearn.base import clone

from modelyard.config.settings import Settings
from modelyard.training.demo_data import churn
from modelyard.types import OutputKind
from modelyard.workspace.root import Workspace

ENDPOINTS = ("plain", "mirrored")


def workspace(folder: Path, percent: float) -> tuple[Workspace, dict[str, str]]:
    """Champion and challenger of churn, and the two endpoints; returns their keys."""
    registry = {
        "database_url": f"sqlite:///{folder / 'registry.db'}",
        "artifacts": str(folder / "artifacts"),
    }
    settings = Settings.from_mapping({"registry": registry}, root=folder, env={})
    (folder / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "{registry["database_url"]}"\n'
        f'artifacts = "{registry["artifacts"]}"\n'
    )
    ws = Workspace(settings)
    model = fit_models(["churn"])["churn"]
    ws.models.register(
        "churn", model.estimator, input_example=model.requests, output_kind=OutputKind.PROBABILITIES
    )
    other = churn(10_000, seed=1)
    challenger = clone(model.estimator)
    challenger.fit(other.drop(columns=["Exited"]), other["Exited"])
    ws.models.register(
        "churn", challenger, input_example=model.requests, output_kind=OutputKind.PROBABILITIES
    )
    ws.models.promote("churn", 1)
    ws.models.promote("churn", 2, alias="challenger")
    keys = {
        name: (ws.endpoints.create(name, model="churn@champion").keys or {})["primary"]
        for name in ENDPOINTS
    }
    ws.endpoints.update("mirrored", mirror={"challenger": percent})
    return ws, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--percent", type=float, default=100.0)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-mirror-") as tmp:
        folder = Path(tmp)
        ws, keys = workspace(folder, args.percent)
        row = records(fit_models(["churn"])["churn"].requests.head(1))
        body = json.dumps({"data": row}).encode()
        port = free_port()
        server = launch(
            "modelyard",
            1,
            [str(BIN / "modelyard"), "--workspace", str(folder), "serve", "--port", str(port)],
            port,
            "/v2/health/ready",
            folder,
        )
        p99: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        rate: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        cpu: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        try:
            time.sleep(2)  # the follow thread loads the challenger for the mirror
            for round_ in range(args.rounds):
                order = ENDPOINTS if round_ % 2 == 0 else ENDPOINTS[::-1]
                for name in order:
                    request = Request(
                        f"/endpoints/{name}/score",
                        body,
                        {
                            "Authorization": f"Bearer {keys[name]}",
                            "Content-Type": "application/json",
                        },
                    )
                    url = server.base + request.path
                    load(loadgen, url, request, folder / "body.json", args.connections, args.warmup)
                    before = tree_cpu_s(server.process.pid)
                    result = load(
                        loadgen, url, request, folder / "body.json", args.connections, args.duration
                    )
                    spent = tree_cpu_s(server.process.pid) - before
                    requests = max(1, int(result["requests"]))
                    p99[name].append(float(result["p99_us"]) / 1000)
                    rate[name].append(requests / (result["duration_us"] / 1e6))
                    cpu[name].append(1000 * spent / requests)
                    say(
                        f"round {round_ + 1} {name}: p99 {p99[name][-1]:.2f} ms, "
                        f"{rate[name][-1]:.0f} req/s, {cpu[name][-1]:.3f} ms CPU/req, "
                        f"{int(result['status'])} errors"
                    )
            time.sleep(2)  # the last tallies are written every second
        finally:
            server.stop()
        compared = sum(c.requests for c in ws.endpoints.comparison("mirrored"))
        ws.close()
    off, on = statistics.median(p99["plain"]), statistics.median(p99["mirrored"])
    print(
        f"churn, 1 row per request, {args.connections} connections, {loadgen}, one worker, "
        f"median of {args.rounds} rounds of {args.duration} s (order alternating):\n"
        f"  mirror off:        p99 {off:7.2f} ms  {statistics.median(rate['plain']):8.0f} req/s"
        f"  {statistics.median(cpu['plain']):.3f} ms server CPU/req\n"
        f"  mirror {args.percent:g} % on: p99 {on:7.2f} ms  "
        f"{statistics.median(rate['mirrored']):8.0f} req/s"
        f"  {statistics.median(cpu['mirrored']):.3f} ms server CPU/req"
        f"  ({compared:,} requests compared)\n"
        f"  champion p99 on / off = {on / off:.3f} (target <= 1.15)"
    )


if __name__ == "__main__":
    main()
