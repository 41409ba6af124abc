"""How fast the CLI starts, side by side with MLflow's, in one run.

    python bench/cli.py [--runs 5]

Times ``modelyard --help``, ``modelyard models list`` (on a fresh workspace with three
registered versions) and ``python -c "import modelyard"`` against ``mlflow --help``,
each as a fresh process, and prints the medians and the ratios (targets: ``--help`` at
least 8x faster than ``mlflow --help``, ``models list`` at least 3x). Wall-clock and CPU
time (user + system of the child) are both shown: on a shared, loaded machine the CPU
time is the steadier of the two.

MLflow is never a modelyard dependency: it runs from bench/.venvs/mlflow
(bench/requirements-mlflow.txt, the same peer virtualenv as bench/serve.py), built on the
first run and reused after.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serve import BENCH, peer_venv  # bench/serve.py: the peers' virtualenvs

HERE = Path(sys.executable).parent  # the modelyard virtualenv's bin/
TARGETS = {"modelyard --help": 8.0, "modelyard models list": 3.0}


def mlflow_executable() -> Path:
    """``mlflow`` from the bench-only virtualenv bench/.venvs/mlflow (built if absent)."""
    return peer_venv("mlflow", BENCH / "requirements-mlflow.txt") / "bin" / "mlflow"


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``argv`` as a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def workspace(folder: Path) -> Path:
    """A workspace with one model of three versions, as ``models list`` meets it."""
    code = """
import sys
import numpy as np
from sklearn.linear_model import LinearRegression
from modelyard import Workspace
with Workspace.init(sys.argv[1]) as ws:
    x = np.arange(20.0).reshape(-1, 1)
    for k in range(3):
        ws.models.register("immo", LinearRegression().fit(x, x[:, 0] * (k + 1)))
"""
    subprocess.run([str(HERE / "python"), "-c", code, str(folder)], check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    runs = parser.parse_args().runs
    mlflow = mlflow_executable()
    modelyard = str(HERE / "modelyard")
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace(Path(tmp) / "ws")
        commands = {
            "mlflow --help": [str(mlflow), "--help"],
            "modelyard --help": [modelyard, "--help"],
            "modelyard models list": [modelyard, "models", "list"],
            'python -c "import modelyard"': [str(HERE / "python"), "-c", "import modelyard"],
        }
        for argv in commands.values():  # warm the file cache once
            timed(argv, ws)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved, so load changes hit every command alike
            for name, argv in commands.items():
                samples[name].append(timed(argv, ws))
    wall = {n: statistics.median(w for w, _ in s) for n, s in samples.items()}
    cpu = {n: statistics.median(c for _, c in s) for n, s in samples.items()}
    base = "mlflow --help"
    print(f"\nmedians of {runs} runs, each a fresh process")
    print(f"{'command':32} {'wall s':>8} {'cpu s':>8} {'x faster (wall)':>16} {'(cpu)':>7}")
    for name in commands:
        ratio_wall, ratio_cpu = wall[base] / wall[name], cpu[base] / cpu[name]
        target = f"   target >= {TARGETS[name]:g}x" if name in TARGETS else ""
        print(
            f"{name:32} {wall[name]:8.3f} {cpu[name]:8.3f} {ratio_wall:15.1f}x "
            f"{ratio_cpu:6.1f}x{target}"
        )


if __name__ == "__main__":
    main()
