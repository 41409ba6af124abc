"""What `modelyard train` adds to a training: the full run against the same load + fit +
score written by hand, in one process, alternating, medians of N repeats.

    .venv/bin/python bench/train_overhead.py [--rows 200000] [--repeat 5]
        [--source-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints seconds for each and the ratio (target: modelyard within 15% of by hand).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sklearn.model_selection import train_test_split

from modelyard import Workspace
from modelyard.config.secret import SecretURL
from modelyard.config.settings import Settings
from modelyard.sources.arrow import to_frame
from modelyard.sources.sql import SqlSource
from modelyard.training.demo_data import churn_training
from modelyard.training.estimators import build_estimator
from modelyard.training.metrics import score


def declaration(table: str) -> dict[str, object]:
    """The churn training of seed 003: one-hot + scaler + XGBoost, gated on roc_auc."""
    params = {"n_estimators": 100, "max_depth": 4, "n_jobs": 2, "random_state": 0}
    return churn_training("bank", table, params=params)


def by_hand(ws: Workspace, url: str, table: str) -> float:
    """Load with the same fast reader, split, fit, score: no registry, no run record."""
    started = time.perf_counter()
    frame = to_frame(SqlSource("bank", SecretURL(url)).read(table=table))
    x, y = frame.drop(columns=["Exited"]), frame["Exited"]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=42, stratify=y
    )
    spec = ws.trainings.get("churn")
    model = build_estimator(spec, spec.params).fit(x_train, y_train)
    score(model, x_test, y_test, ("accuracy", "f1", "roc_auc", "log_loss"))
    return time.perf_counter() - started


def with_modelyard(ws: Workspace) -> float:
    """The whole `modelyard train churn`: load, fit, evaluate, register, gate, record."""
    started = time.perf_counter()
    run = ws.trainings.run("churn", trigger="bench")
    assert run.state.value == "succeeded", run.error
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    table = "bench_churn"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = Settings.from_mapping(
            {
                "sources": {"bank": {"url": args.source_url}},
                "trainings": {"churn": declaration(table)},
            },
            root=root,
            env={},
        )
        with Workspace(settings) as ws:
            ws.sources.demo_data("churn", "bank", args.rows, table=table, replace=True)
            with_modelyard(ws)  # warm-up: imports, first connection
            hand, ours = [], []
            for _ in range(args.repeat):
                hand.append(by_hand(ws, args.source_url, table))
                ours.append(with_modelyard(ws))
    h, m = statistics.median(hand), statistics.median(ours)
    print(
        f"churn pipeline, {args.rows} rows from {SecretURL(args.source_url)}, {args.repeat} repeats"
    )
    print(f"  by hand (load + fit + score): median {h:.3f} s")
    print(f"  modelyard train:              median {m:.3f} s")
    print(f"  ratio modelyard / by hand:    {m / h:.3f} (overhead {100 * (m / h - 1):+.1f}%)")


if __name__ == "__main__":
    main()
