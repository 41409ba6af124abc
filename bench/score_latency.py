"""Per-row scoring latency of seed 003's churn pipeline: sklearn on a DataFrame against the
compiled path, median of many single-row calls, one process, one thread.

    .venv/bin/python bench/score_latency.py [--rows 5000] [--calls 2000]

Prints microseconds per call for each way and its ratio to Pipeline.predict_proba:
the whole Pipeline on a one-row DataFrame; the compiled scorer on numpy columns and on
the same DataFrame; its parts (numpy preprocessing alone, the trees in ONNX Runtime,
the trees in XGBoost's in-place predictor); and, for scale, what building the request's
DataFrame costs (``frame.from_rows``), which the compiled path does not need.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # as `modelyard serve` does, before numpy loads

import numpy as np  # noqa: E402

from modelyard.registry.signature import infer_signature  # noqa: E402
from modelyard.serving.compile.base import Compiled  # noqa: E402
from modelyard.serving.compile.compiler import try_compile  # noqa: E402
from modelyard.serving.compile.transforms import column_stage  # noqa: E402
from modelyard.serving.compile.trees import INPLACE, ONNX, candidates  # noqa: E402
from modelyard.serving.frame import from_rows  # noqa: E402
from modelyard.training.demo_data import churn, churn_training  # noqa: E402
from modelyard.training.estimators import build_estimator  # noqa: E402
from modelyard.training.spec import TrainingSpec  # noqa: E402
from modelyard.types import OutputKind  # noqa: E402


def median_us(call: Callable[[], Any], calls: int) -> float:
    """Median wall time of ``calls`` calls, in microseconds, after a few warm-up calls."""
    for _ in range(20):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="training rows")
    parser.add_argument("--calls", type=int, default=2000, help="single-row calls per figure")
    args = parser.parse_args()

    spec = TrainingSpec.parse("churn", churn_training("bank", "churn"), Path.cwd())
    data = churn(args.rows, seed=5)
    x, y = data.drop(columns=["Exited"]), data["Exited"]
    model = build_estimator(spec, {**spec.params, "n_jobs": 1}).fit(x, y)
    holdout = churn(1000, seed=6).drop(columns=["Exited"])
    signature = infer_signature(x, OutputKind.PROBABILITIES)
    outcome = try_compile(model, signature, holdout)
    if not isinstance(outcome, Compiled):
        raise SystemExit(f"the churn pipeline did not compile: {outcome.reason}")

    row = from_rows([holdout.iloc[0].to_dict()], signature)  # a request's frame
    columns = {name: row[name].to_numpy() for name in row.columns}
    expected = model.predict_proba(row)
    assert np.abs(outcome(columns) - expected).max() <= 1e-6
    stage = column_stage(model[0], signature.names)
    matrix = stage(columns, 1)
    ways: dict[str, Callable[[], Any]] = {
        "Pipeline.predict_proba(DataFrame)": lambda: model.predict_proba(row),
        f"compiled [{outcome.path}] on numpy columns": lambda: outcome(columns),
        f"compiled [{outcome.path}] on the DataFrame": lambda: outcome(row),
        "  numpy preprocessing alone": lambda: stage(columns, 1),
    }
    for path, build in candidates(model[-1], "predict_proba", sparse=False):
        try:
            kernel = build()
        except Exception as exc:  # ONNX missing: say so and go on
            print(f"({path} unavailable: {exc})")
            continue
        label = {ONNX: "ONNX Runtime, 1 thread", INPLACE: "XGBoost inplace_predict, nthread=1"}
        ways[f"  trees alone: {label[path]}"] = lambda kernel=kernel: kernel(matrix)
        ways[f"numpy + {label[path]}"] = lambda kernel=kernel: kernel(stage(columns, 1))
    trees = model[-1]
    ways["  trees alone: XGBClassifier.predict_proba as shipped"] = lambda: trees.predict_proba(
        matrix
    )
    record = holdout.iloc[0].to_dict()
    ways["(for scale) frame.from_rows: one JSON record to a DataFrame"] = lambda: from_rows(
        [record], signature
    )

    print(
        f"churn pipeline: {args.rows} training rows, {trees.n_estimators} trees of depth "
        f"{trees.max_depth}; compiled path {outcome.path}, max diff {outcome.max_diff:.2g} "
        f"on {outcome.rows} holdout rows"
    )
    baseline = median_us(ways["Pipeline.predict_proba(DataFrame)"], max(200, args.calls // 10))
    print(f"{'way':<60} {'µs/row':>10} {'vs sklearn':>11}")
    print(f"{'Pipeline.predict_proba(DataFrame)':<60} {baseline:>10.1f} {1.0:>10.1f}x")
    for name, call in ways.items():
        if name.startswith("Pipeline"):
            continue
        micros = median_us(call, args.calls)
        print(f"{name:<60} {micros:>10.1f} {baseline / micros:>10.1f}x")


if __name__ == "__main__":
    main()
