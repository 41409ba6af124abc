"""Server time of every Studio page with a big registry: 200 versions of one model (half
of them promoted once, so the ledger is long) and 1,000 recorded runs. Each page is
requested in-process through the ASGI app (no network), REPEAT times, alternating with
its admin-API JSON twin as the baseline (the same data as JSON, no template).

    .venv/bin/python bench/studio_pages.py [--versions 200] [--runs 1000] [--repeat 20]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]

Prints median and p95 milliseconds per page, the JSON baseline and the ratio. Target:
every page under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.linear_model import LinearRegression

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.storage.runs import RunStore
from modelyard.types import Decision, Outcome
from modelyard.ui.app import create_studio_app

KEY = "bench-admin-key"
LOG = "\n".join(f"line {i}: fitting, evaluating, registering" for i in range(40)) + "\n"


def populate(ws: Workspace, versions: int, runs: int) -> str:
    """Register ``versions`` of immo (promoting every other one), record ``runs`` runs;
    returns the id of the newest run."""
    frame = pd.DataFrame({"surface": [20.0, 40.0, 60.0, 80.0]})
    for i in range(versions):
        model = LinearRegression().fit(frame, [i + 1.0, i + 3.0, i + 5.0, i + 7.0])
        version = ws.models.register(
            "immo",
            model,
            input_example=frame,
            metrics={"r2": 0.80 + (i % 17) / 100, "rmse": 1000.0 + i, "mae": 800.0 + i},
            lineage={"training": "immo", "query": "SELECT surface, prix FROM immo", "rows": 300},
        )
        if i % 2 == 0:
            ws.models.promote("immo", version.version, reason=f"bench {i}")
    store = RunStore(ws.db)
    decision = Decision(Outcome.KEEP, "r2=0.8 >= 0.8: kept", "r2", 0.8, 0.8)
    last = ""
    for i in range(runs):
        run = store.create("immo", "immo", trigger="schedule", actor="scheduler", params={})
        store.start(run.id)
        store.succeed(
            run.id, metrics={"r2": 0.8}, version=1 + i % versions, decision=decision, logs=LOG
        )
        last = run.id
    ws.endpoints.create("immo", model="immo@champion")
    ws.people.add("alice", "scientist")
    return last


async def measure(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await client.get(path, headers=headers)
    took = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return took * 1000


async def bench(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'registry.db'}"
    registry = {"database_url": url, "artifacts": str(folder / "artifacts")}
    trainings = {
        "immo": {
            "source": "immo_db",
            "query": "SELECT surface, prix FROM immo",
            "target": "prix",
            "estimator": "sklearn.linear_model.LinearRegression",
            "promotion": {"metric": "r2", "min": 0.8},
            "schedule": "every 1h",
        }
    }
    settings = Settings.from_mapping(
        {
            "registry": registry,
            "security": {"admin_key": KEY},
            "sources": {"immo_db": {"url": f"sqlite:///{folder / 'data.db'}"}},
            "trainings": trainings,
        },
        root=folder,
        env={},
    )
    ws = Workspace(settings)
    began = time.perf_counter()
    last_run = populate(ws, args.versions, args.runs)
    ws.queue.sync_schedules()
    print(
        f"registry: {args.versions} versions, {args.runs} runs on {ws.settings.database_url} "
        f"(built in {time.perf_counter() - began:.1f} s)"
    )
    app = create_studio_app(ws)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        login = await client.post("/studio/login", data={"key": KEY})
        assert login.status_code == 303, login.text
        cookie = {"cookie": f"modelyard_session={login.cookies['modelyard_session']}"}
        admin = {"Authorization": f"Bearer {KEY}"}
        pages = [
            ("/studio/models", "/api/v1/models"),
            ("/studio/models/immo", "/api/v1/models/immo"),
            ("/studio/models/immo/decision", "/api/v1/models/immo"),
            ("/studio/models/immo/confirm?do=promote&version=1", "/api/v1/models/immo/versions/1"),
            ("/studio/runs", "/api/v1/runs"),
            (f"/studio/runs/{last_run}", f"/api/v1/runs/{last_run}"),
            ("/studio/endpoints", "/api/v1/endpoints"),
            ("/studio/endpoints/immo", "/api/v1/endpoints/immo/samples"),
            ("/studio/sources", "/api/v1/trainings"),
            ("/studio/schedules", "/api/v1/schedules"),
            ("/studio/monitoring", "/api/v1/endpoints"),
            ("/studio/people", "/api/v1/audit"),
        ]
        print(f"{'page':<52} {'median ms':>9} {'p95 ms':>8} {'JSON ms':>8} {'ratio':>6}")
        worst = 0.0
        for page, twin in pages:
            times, base = [], []
            for _ in range(args.repeat):
                times.append(await measure(client, page, cookie))
                base.append(await measure(client, twin, admin))
            median, json_median = statistics.median(times), statistics.median(base)
            p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, p95)
            print(
                f"{page[:52]:<52} {median:9.1f} {p95:8.1f} {json_median:8.1f} "
                f"{median / json_median:6.2f}"
            )
        verdict = "under" if worst < 300 else "OVER"
        print(f"slowest page p95: {worst:.1f} ms ({verdict} the 300 ms target)")
    ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
