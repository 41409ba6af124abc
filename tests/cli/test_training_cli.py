"""``modelyard demo-data``, ``train``, ``runs`` and ``models approve`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import cli

CONFIG = """
[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
evaluation = { holdout = 0.2, seed = 42 }
promotion = { metric = "r2", min = 0.8, policy = "latest-passing" }

[trainings.held]
model = "held"
source = "immo_db"
table = "immo"
target = "prix"
estimator = "sklearn.linear_model.Ridge"
promotion = { metric = "r2", min = 0.8, require_approval = true }

[trainings.broken]
source = "immo_db"
query = "SELECT surface, prix FROM nowhere"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
"""


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    assert cli(capsys, "init", str(tmp_path))[0] == 0
    with (tmp_path / "modelyard.toml").open("a") as handle:
        handle.write(CONFIG)
    return ("--workspace", str(tmp_path))


def test_seed_000_from_the_command_line(
    capsys: pytest.CaptureFixture[str], ws: tuple[str, str]
) -> None:
    code, out, _ = cli(capsys, *ws, "demo-data", "immo", "--source", "immo_db", "--rows", "300")
    assert code == 0 and "wrote 300 immo rows into immo_db.immo" in out
    code, out, err = cli(capsys, *ws, "train", "immo", "--param", "fit_intercept=true")
    assert code == 0, err
    for stage in ("load rows", "fit", "evaluate", "register", "gate"):
        assert stage in out
    assert "registered immo:1" in out and "version 1 promoted" in out
    code, out, _ = cli(capsys, *ws, "runs", "list")
    assert code == 0 and "immo" in out and "succeeded" in out
    code, out, _ = cli(capsys, *ws, "runs", "list", "--training", "immo")
    run_id = out.split("│")[
        next(i for i, c in enumerate(out.split("│")) if "immo" in c) - 1
    ].strip()
    code, out, _ = cli(capsys, *ws, "runs", "show", run_id.rstrip("…"))
    assert code == 0 and "fit_intercept" in out and "promoted" in out
    code, out, _ = cli(capsys, *ws, "runs", "logs", run_id.rstrip("…"))
    assert code == 0 and "loaded 300 rows x 2 columns" in out and "decision: r2=" in out


def test_a_failed_run_is_one_red_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], ws: tuple[str, str]
) -> None:
    cli(capsys, *ws, "demo-data", "immo", "--source", "immo_db", "--rows", "50")
    code, _out, err = cli(capsys, *ws, "train", "broken")
    assert code == 1
    assert "error[run_failed]: run" in err and "no such table: nowhere" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_approval_from_the_command_line(
    capsys: pytest.CaptureFixture[str], ws: tuple[str, str]
) -> None:
    cli(capsys, *ws, "demo-data", "immo", "--source", "immo_db", "--rows", "200")
    code, out, _ = cli(capsys, *ws, "train", "held")
    assert code == 0 and "awaits approval" in out
    code, out, err = cli(capsys, *ws, "models", "promote", "held:1")
    assert code == 1 and "awaits approval" in err
    code, out, _ = cli(capsys, *ws, "models", "approve", "held:1")
    assert code == 0 and "approved held:1" in out
    code, out, _ = cli(capsys, *ws, "models", "show", "held@champion")
    assert code == 0 and "held:1" in out


def test_bad_param_and_unknown_data_set(
    capsys: pytest.CaptureFixture[str], ws: tuple[str, str]
) -> None:
    code, _, err = cli(capsys, *ws, "train", "immo", "--param", "oops")
    assert code == 1 and "must look like key=value" in err
    code, _, err = cli(capsys, *ws, "demo-data", "titanic", "--source", "immo_db")
    assert code == 1 and "choose one of immo, churn" in err


def test_no_wait_queues_the_run_for_a_worker_and_prints_its_id(
    capsys: pytest.CaptureFixture[str], ws: tuple[str, str]
) -> None:
    code, out, err = cli(capsys, *ws, "train", "immo", "--no-wait", "--param", "fit_intercept=true")
    assert code == 0, err
    run_id = out.splitlines()[0].strip()
    assert "queued run" in out and "load rows" not in out  # nothing ran here
    code, out, _ = cli(capsys, *ws, "runs", "show", run_id)
    assert code == 0 and "queued" in out and "fit_intercept" in out
    code, out, _ = cli(capsys, *ws, "models", "list")
    assert "immo" not in out  # no version until a worker runs it
