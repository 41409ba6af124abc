"""Make docs/screenshots/monitoring-report.png: a monitoring report of a day of churn
scoring (customers growing older from mid-afternoon, labels for the morning), opened in
Debian's headless Chromium (``apt-get install -y chromium``). Not a test: run it when the
report's look changes, then look at the picture.

    .venv/bin/python docs/screenshots/monitoring_report.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench.monitor import workspace  # noqa: E402

from modelyard import Workspace  # noqa: E402
from modelyard.monitoring.html import render_html  # noqa: E402
from modelyard.monitoring.observation import Observation  # noqa: E402
from modelyard.training.demo_data import churn  # noqa: E402

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def day_of_scoring(ws: Workspace, until: datetime) -> None:
    """24 hours of requests of 20 rows; from hour 15 the customers are older."""
    model = ws.models.load("churn@champion")
    rng = np.random.default_rng(5)
    collector = ws.monitoring.collector()
    collector.max_rows = 1_000_000
    collector.start()
    labels = []
    for hour in range(24):
        pool = churn(4000, seed=100 + hour)
        if hour >= 15:
            pool = pool[pool["Age"] >= 30 + 2 * (hour - 15)]
        frame = pool.head(1600).reset_index(drop=True)
        features = frame.drop(columns=["Exited"])
        proba = model.predict_proba(features)
        start = until - timedelta(hours=24 - hour)
        for n in range(0, len(frame), 20):
            rid = f"h{hour}-{n}"
            failed = 18 <= hour <= 19 and rng.random() < 0.03
            part = features.iloc[n : n + 20]
            collector.offer(
                Observation(
                    endpoint="churn",
                    request_id=rid,
                    scored_at=start + timedelta(seconds=float(n) * 2),
                    model="churn",
                    version=1,
                    alias="champion",
                    status=500 if failed else 200,
                    latency_ms=float(rng.lognormal(1.0 + 0.02 * hour, 0.4)),
                    inputs=None if failed else {c: part[c].to_numpy() for c in part.columns},
                    outputs=None if failed else proba[n : n + 20],
                    classes=list(model.classes_),
                )
            )
            if hour < 10 and not failed:
                truth = frame["Exited"].iloc[n : n + 20].tolist()
                labels += [
                    {"request_id": rid, "row": i, "label": int(v)} for i, v in enumerate(truth)
                ]
    collector.stop(timeout_s=120)
    ws.monitoring.feedback("churn", labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--out", type=Path, default=HERE / "monitoring-report.png")
    parser.add_argument("--html", type=Path, help="Also keep the HTML report here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-screenshot-") as tmp:
        folder = Path(tmp)
        with workspace(folder, 10_000) as ws:  # bench/monitor.py's: churn on demo data
            ws.trainings.run("churn", wait=True)
            ws.endpoints.create("churn", model="churn@champion", collect=True)
            until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            day_of_scoring(ws, until)
            report = ws.monitoring.report("churn", since=until - timedelta(days=1), until=until)
        page = folder / "report.html"
        page.write_text(render_html(report.to_dict()), encoding="utf-8")
        size = page.stat().st_size
        if args.html is not None:
            args.html.write_bytes(page.read_bytes())
        subprocess.run(  # noqa: S603  # the Chromium asked for, on our own page
            [
                args.chromium,
                *FLAGS,
                "--window-size=1280,2330",
                f"--screenshot={args.out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.out} (from {size / 1024:.0f} KiB of HTML)")


if __name__ == "__main__":
    main()
