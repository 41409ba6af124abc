"""Benchmark: modelyard's drift report over collected rows against Evidently's
``DataDriftPreset`` on the same reference and current data, in one run. It prints figures
and asserts nothing.

    .venv/bin/python bench/monitor.py [--rows 1000000] [--reference 10000] [--skip-peer]

What it does:

1. trains seed 003's churn model (one-hot + scaler + XGBoost) on ``--reference`` rows of
   ``demo_data.churn`` in a temporary SQLite workspace: its version stores the training
   profile that modelyard's drift is computed against;
2. draws ``--rows`` current rows of the same generator with two features shifted (Age +8
   years, Balance x 1.15), scores them with the model, and writes them into the endpoint's
   collection table as the collector writes them (one row each, inputs and outputs as
   JSON), spread over one day;
3. modelyard: ``ws.monitoring.report(..., timeline=False)`` over that day, timed end to
   end: reading the rows from SQLite, decoding the JSON, drift of every feature and of the
   prediction, CBPE with its sampling band, latency and error rate; then the same with the
   24-part timeline the HTML report draws (drift, metrics and latency per part), and the
   HTML report's size;
4. Evidently (bench/.venvs/evidently, bench/requirements-evidently.txt, never a modelyard
   dependency): ``Report([DataDriftPreset()]).run(current, reference)`` on the same
   reference rows (the training frame) and the same current rows as DataFrames already in
   memory (reading them is not timed), with the same column types declared;
5. prints per feature the method and verdict of each, whether they agree where the method
   is the same, and the time ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import peer_venv

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.monitoring.html import render_html
from modelyard.monitoring.observation import Observation
from modelyard.training.demo_data import CHURN_CATEGORICAL, churn, churn_training

BENCH = Path(__file__).resolve().parent
EVIDENTLY_RUN = r"""
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder, numeric, categorical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet")
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
started = time.perf_counter()
ref = Dataset.from_pandas(reference, data_definition=definition)
cur = Dataset.from_pandas(current, data_definition=definition)
snapshot = Report([DataDriftPreset()]).run(cur, ref)
elapsed = time.perf_counter() - started
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    column = config.get("column")
    if column is None or config.get("type", "").split(":")[-1] != "ValueDrift":
        continue
    verdicts[column] = {
        "method": config.get("method"),
        "value": metric["value"],
        "threshold": config.get("threshold"),
    }
print(json.dumps({"seconds": elapsed, "verdicts": verdicts}))
"""
SAME_METHOD = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
}


def say(message: str) -> None:
    print(message, flush=True)


def workspace(folder: Path, reference_rows: int) -> Workspace:
    settings = Settings.from_mapping(
        {
            "registry": {
                "database_url": f"sqlite:///{folder / 'registry.db'}",
                "artifacts": str(folder / "artifacts"),
            },
            "sources": {"db": {"url": f"sqlite:///{folder / 'data.db'}"}},
            "trainings": {"churn": churn_training("db", "churn")},
        },
        root=folder,
        env={},
    )
    ws = Workspace(settings)
    ws.sources.demo_data("churn", "db", reference_rows, replace=True)
    return ws


def current_rows(rows: int) -> pd.DataFrame:
    frame = churn(rows, seed=11).drop(columns=["Exited"])
    frame["Age"] = frame["Age"] + 8
    frame["Balance"] = (frame["Balance"] * 1.15).round(2)
    return frame


def collect(ws: Workspace, frame: pd.DataFrame, model: object, since: datetime) -> None:
    """Write the rows through the collector: one Observation per 1,000-row request."""
    proba = np.asarray(model.predict_proba(frame))  # type: ignore[attr-defined]
    classes = list(model.classes_)  # type: ignore[attr-defined]
    step = timedelta(days=1) / len(frame)
    collector = ws.monitoring.collector()
    collector.max_rows = len(frame)
    collector.start()
    for start in range(0, len(frame), 1000):
        part = frame.iloc[start : start + 1000]
        observation = Observation(
            endpoint="churn",
            request_id=f"bench-{start}",
            scored_at=since + step * start,
            model="churn",
            version=1,
            alias="champion",
            latency_ms=1.0 + (start % 7),
            inputs={c: part[c].to_numpy() for c in part.columns},
            outputs=proba[start : start + 1000],
            classes=classes,
        )
        collector.offer(observation)
    collector.stop(timeout_s=3600)


def evidently(folder: Path, reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, object]:
    venv = peer_venv("evidently", BENCH / "requirements-evidently.txt")
    reference.to_parquet(folder / "reference.parquet")
    current.to_parquet(folder / "current.parquet")
    numeric = [c for c in reference.columns if c not in CHURN_CATEGORICAL]
    answer = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            EVIDENTLY_RUN,
            str(folder),
            json.dumps(numeric),
            json.dumps(list(CHURN_CATEGORICAL)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="current (collected) rows")
    parser.add_argument("--reference", type=int, default=10_000, help="training rows")
    parser.add_argument("--skip-peer", action="store_true", help="do not run Evidently")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-monitor-") as tmp:
        folder = Path(tmp)
        ws = workspace(folder, args.reference)
        say(f"training churn on {args.reference:,} rows…")
        ws.trainings.run("churn", wait=True)
        ws.endpoints.create("churn", model="churn@champion", collect=True)
        model = ws.models.load("churn@champion")
        reference = churn(args.reference).drop(columns=["Exited"])
        current = current_rows(args.rows)
        since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, minutes=1)
        say(f"writing {args.rows:,} collected rows…")
        collect(ws, current, model, since)
        until = since + timedelta(days=1, seconds=1)
        say("modelyard report…")
        started = time.perf_counter()
        report = ws.monitoring.report("churn", since=since, until=until, timeline=False)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        full = ws.monitoring.report("churn", since=since, until=until)
        full_s = time.perf_counter() - started
        html_kib = len(render_html(full.to_dict()).encode()) / 1024
        assert report.drift is not None
        ours = {f.feature: f for f in report.drift.features}
        say(
            f"modelyard: {report.rows:,} rows, drift report in {ours_s:.2f} s; with its 24-part "
            f"timeline {full_s:.2f} s; HTML report {html_kib:.0f} KiB"
        )
        theirs: dict[str, dict[str, object]] = {}
        theirs_s = float("nan")
        if not args.skip_peer:
            say("Evidently DataDriftPreset…")
            peer = evidently(folder, reference, current)
            theirs_s = float(peer["seconds"])  # type: ignore[arg-type]
            theirs = peer["verdicts"]  # type: ignore[assignment]
        ws.close()
    head = f"{'feature':<16} {'modelyard':<28} {'Evidently':<36} same method  same verdict"
    say("\n" + head + "\n" + "-" * len(head))
    agree = compared = 0
    for name, mine in ours.items():
        other = theirs.get(name, {})
        method = str(other.get("method", "-"))
        value = other.get("value")
        threshold = other.get("threshold")
        their_drift = _drifted(method, value, threshold)
        same = SAME_METHOD.get(mine.method) == method
        if same and their_drift is not None:
            compared += 1
            agree += their_drift == mine.drifted
        ours_text = f"{mine.method} {mine.statistic:.4g} {'DRIFT' if mine.drifted else 'ok'}"
        theirs_text = (
            f"{method} {float(value):.4g} {'DRIFT' if their_drift else 'ok'}"  # type: ignore[arg-type]
            if value is not None
            else "-"
        )
        verdict = ("yes" if their_drift == mine.drifted else "NO") if same else "-"
        say(f"{name:<16} {ours_text:<28} {theirs_text:<36} {'yes' if same else 'no':<12} {verdict}")
    say(
        f"\nsame verdict on {agree} of {compared} features with the same method; "
        f"modelyard {ours_s:.2f} s (reading its columnar blocks from SQLite + drift + CBPE), "
        f"Evidently {theirs_s:.2f} s (drift only, data in memory): "
        f"modelyard {theirs_s / ours_s:.1f}x faster"
    )


def _drifted(method: str, value: object, threshold: object) -> bool | None:
    if value is None or threshold is None:
        return None
    number, limit = float(value), float(threshold)  # type: ignore[arg-type]
    if "p_value" in method:
        return number <= limit if method.startswith("K-S") else number < limit
    return number >= limit


if __name__ == "__main__":
    main()
