"""``modelyard batch score|list|show|cancel`` in-process: a progress bar, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard import Workspace
from tests.cli.test_cli import cli
from tests.helpers.batch import churn_rows, read_sql, register_churn, workspace_config, write_rows


@pytest.fixture
def root(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    workspace_config(tmp_path, url)
    frame = churn_rows(1500)
    write_rows(url, frame, "customers")
    with Workspace.from_config(tmp_path) as ws:
        register_churn(ws, frame)
    return tmp_path


def test_score_list_show_and_cancel(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = ("--workspace", str(root))
    code, out, err = cli(
        capsys, *ws, "batch", "score", "churn", "--source", "wh", "--table", "customers",
        "--key", "id", "--output-table", "scores", "--chunk-rows", "400", "--job-id", "night",
    )  # fmt: skip
    assert code == 0, err
    assert "batch job night: churn:1 -> table scores of wh" in out
    assert "1500/1500" in out and "succeeded: 1500 rows scored, 0 skipped" in out
    assert len(read_sql(f"sqlite:///{root / 'warehouse.db'}", "SELECT id FROM scores")) == 1500

    code, out, _ = cli(capsys, *ws, "batch", "list")
    assert code == 0 and "night" in out and "succeeded" in out and "1500/1500" in out
    code, out, _ = cli(capsys, *ws, "batch", "show", "night")
    assert code == 0 and "churn:1 (pinned at submit)" in out and "table:scores" in out

    with Workspace.from_config(root) as workspace:
        queued = workspace.batch.score(
            "churn", source="wh", table="customers", key="id", output="out.csv", wait=False
        )
    code, out, _ = cli(capsys, *ws, "batch", "cancel", queued.id)
    assert code == 0 and "cancelled" in out
    code, _, err = cli(capsys, *ws, "batch", "cancel", queued.id)
    assert code == 1 and "error[conflict]" in err and "nothing to cancel" in err


def test_an_error_is_one_line_and_the_job_records_it(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "--workspace", str(root), "batch", "score", "churn", "--source", "wh",
        "--query", "SELECT id, Age FROM customers", "--key", "id", "--output-table", "s",
        "--job-id", "broken",
    )  # fmt: skip
    assert code == 1 and err.startswith("error[missing_column]: the input has no column")
    assert len(err.strip().splitlines()) == 1
    code, out, _ = cli(capsys, "--workspace", str(root), "batch", "show", "broken")
    assert code == 0 and "failed" in out and "missing_column" in out


def test_options_that_contradict_are_refused(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "--workspace", str(root), "batch", "score", "churn", "--source", "wh",
        "--table", "customers", "--query", "SELECT 1", "--key", "id", "--output", "o.parquet",
    )  # fmt: skip
    assert code == 1 and "--query or --table (one of them)" in err
    code, _, err = cli(
        capsys, "--workspace", str(root), "batch", "score", "churn", "--source", "wh",
        "--table", "customers", "--key", "id", "--output", "o.parquet", "--on-error", "ignore",
    )  # fmt: skip
    assert code == 1 and "--on-error must be skip or fail" in err
