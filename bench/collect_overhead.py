"""Benchmark: what collection costs real-time scoring, in one run. It prints figures and
asserts nothing.

    .venv/bin/python bench/collect_overhead.py [--duration 10] [--rounds 8]
        [--connections 16] [--loadgen auto|wrk|python]

One ``modelyard serve`` process (one worker) serves seed 003's churn model (one-hot +
scaler + XGBoost, fitted as bench/serve.py fits it) at two endpoints: ``plain`` collects
nothing, ``collected`` collects every request (sampling 1.0) into the workspace's SQLite
collection table. Single-row requests (``{"data": [{...}]}`` with a key) load each
endpoint in turn, ``--rounds`` times, ``--duration`` seconds each after a warm-up, with
the generator of bench/serve.py (wrk when installed, else bench/loadgen.py); the median
req/s of each is compared, and the rows written are counted in the table afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import joblib
from bench.serve import (
    BIN,
    Request,
    fit_models,
    free_port,
    launch,
    load,
    records,
    say,
    tree_cpu_s,
)

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.types import OutputKind


def workspace(folder: Path) -> tuple[Workspace, dict[str, str]]:
    settings = Settings.from_mapping(
        {
            "registry": {
                "database_url": f"sqlite:///{folder / 'registry.db'}",
                "artifacts": str(folder / "artifacts"),
            }
        },
        root=folder,
        env={},
    )
    (folder / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "sqlite:///{folder / "registry.db"}"\n'
        f'artifacts = "{folder / "artifacts"}"\n'
    )
    ws = Workspace(settings)
    model = fit_models(["churn"])["churn"]
    joblib.dump(model.estimator, folder / "churn.joblib")
    ws.models.register(
        "churn",
        model.estimator,
        input_example=model.requests,
        output_kind=OutputKind.PROBABILITIES,
    )
    ws.models.promote("churn", 1)
    keys = {
        "plain": (ws.endpoints.create("plain", model="churn@champion").keys or {})["primary"],
        "collected": (
            ws.endpoints.create("collected", model="churn@champion", collect=True).keys or {}
        )["primary"],
    }
    return ws, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)  # single rounds vary ~10 %
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    loadgen = args.loadgen
    if loadgen == "auto":
        loadgen = "wrk" if shutil.which("wrk") else "python"
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-collect-") as tmp:
        folder = Path(tmp)
        ws, keys = workspace(folder)
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
        rates: dict[str, list[float]] = {"plain": [], "collected": []}
        cpu: dict[str, list[float]] = {"plain": [], "collected": []}
        p99: dict[str, list[float]] = {"plain": [], "collected": []}
        try:
            for round_ in range(args.rounds):
                order = ("plain", "collected") if round_ % 2 == 0 else ("collected", "plain")
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
                    ok = int(result["requests"]) - int(result["status"])
                    rates[name].append(ok / (result["duration_us"] / 1e6))
                    cpu[name].append(1000 * spent / max(1, int(result["requests"])))
                    p99[name].append(float(result["p99_us"]) / 1000)
                    say(
                        f"round {round_ + 1} {name}: {rates[name][-1]:.0f} req/s, "
                        f"{cpu[name][-1]:.3f} ms CPU/req, p99 {p99[name][-1]:.1f} ms"
                    )
        finally:
            server.stop()
        report = ws.monitoring.report("collected", window="1d", timeline=False)
        ws.close()
    plain, collected = statistics.median(rates["plain"]), statistics.median(rates["collected"])
    plain_cpu = statistics.median(cpu["plain"])
    collected_cpu = statistics.median(cpu["collected"])
    # Each round loads the two endpoints back to back: the ratio within a round is taken
    # under the same conditions, so the median of those ratios sees less of the machine's
    # drift from round to round (10 % here) than the ratio of the two medians.
    paired = statistics.median(
        c / p for c, p in zip(rates["collected"], rates["plain"], strict=True)
    )
    print(
        f"churn, 1 row per request, {args.connections} connections, {loadgen}, "
        f"median of {args.rounds} rounds of {args.duration} s (order alternating):\n"
        f"  collection off: {plain:8.0f} req/s  {plain_cpu:.3f} ms server CPU/req  "
        f"p99 {statistics.median(p99['plain']):.1f} ms\n"
        f"  collection on:  {collected:8.0f} req/s  {collected_cpu:.3f} ms server CPU/req  "
        f"p99 {statistics.median(p99['collected']):.1f} ms  "
        f"({report.rows:,} rows collected, sampling 1.0)\n"
        f"  req/s on / off = {collected / plain:.3f} ({(1 - collected / plain) * 100:.1f} % fewer);"
        f" CPU per request on / off = {collected_cpu / plain_cpu:.3f}\n"
        f"  median of the rounds' own on / off ratios = {paired:.3f} "
        f"({(1 - paired) * 100:.1f} % fewer)"
    )


if __name__ == "__main__":
    main()
