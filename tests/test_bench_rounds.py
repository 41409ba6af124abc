"""bench/serve.py --rounds: each round's modelyard cell is paired with that round's hello
cell and the verdict is on the median share; a count below 1, or rounds with --grpc
(which measures each server once), is refused with exit status 2 before anything starts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "serve.py"


@pytest.fixture(scope="module")
def serve() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_serve", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _cell(serve: ModuleType, server: str, requests: int, turn: int, cpu_s: float = 1.0) -> Any:
    result = {"requests": requests, "status": 0, "duration_us": 1_000_000}
    return serve.Cell("immo", 1, server, 2, result, cpu_s, round=turn)


def test_one_round_is_judged_on_its_share(serve: ModuleType) -> None:
    cells = [_cell(serve, serve.MODELYARD, 480, 0), _cell(serve, serve.HELLO, 1000, 0)]
    line = serve.ceiling(cells, [2]).splitlines()[-1]
    assert "modelyard 48.0% of hello (MISSED, >= 50%)" in line and "rounds" not in line


def test_rounds_are_paired_and_judged_on_the_median_share(serve: ModuleType) -> None:
    shares = [(600, 1000), (480, 1000), (260, 500)]  # 60 %, 48 %, 52 %: each within its round
    cells = [
        cell
        for turn, (ours, hello) in enumerate(shares)
        for cell in (
            _cell(serve, serve.MODELYARD, ours, turn),
            _cell(serve, serve.HELLO, hello, turn),
        )
    ]
    line = serve.ceiling(cells, [2]).splitlines()[-1]
    assert (
        "modelyard 52.0% of hello (met, >= 50%) [median of 3 rounds: 60.0%, 48.0%, 52.0%]" in line
    )
    median = {c.server: c.rps for c in serve.medians(cells)}
    assert median == {serve.MODELYARD: 480.0, serve.HELLO: 1000.0}  # each server's median round


@pytest.mark.parametrize("arguments", [["--rounds", "0"], ["--grpc", "--rounds", "2"]])
def test_rounds_that_cannot_be_kept_are_refused(arguments: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), *arguments], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2
    assert "--rounds" in run.stderr.splitlines()[-1]
