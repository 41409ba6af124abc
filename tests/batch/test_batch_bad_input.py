"""Bad input to a batch job: a clear error, the job failed with its reason, no duplicate rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.errors import InvalidInput, ModelyardError, QueryFailed, SourceUnreachable
from tests.conftest import make_settings
from tests.helpers.batch import churn_rows, execute, read_sql, register_churn, write_rows

ROWS = 1200


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture
def ws(tmp_path: Path, url: str) -> Iterator[Workspace]:
    sources = {"wh": {"url": url}, "down": {"url": "postgresql+psycopg://nobody@127.0.0.1:1/x"}}
    workspace = Workspace(
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'registry.db'}", sources=sources)
    )
    frame = churn_rows(ROWS)
    write_rows(url, frame, "customers")
    register_churn(workspace, frame)
    yield workspace
    workspace.close()


def _fails(ws: Workspace, error: type[ModelyardError], match: str, **options: Any) -> str:
    """Run a job that must fail with ``error``; returns the reason recorded on the job."""
    spec: dict[str, Any] = {"source": "wh", "key": "id", "chunk_rows": 500, "job_id": "bad"}
    spec.update(options)
    if "query" not in spec and "table" not in spec:
        spec["table"] = "customers"
    if "output" not in spec and "output_table" not in spec:
        spec["output_table"] = "scores"
    with pytest.raises(error, match=match):
        ws.batch.score("churn", **spec)
    job = ws.batch.get("bad")
    assert job.status == "failed"
    return job.error or ""


def test_an_unreachable_source_fails_the_job_with_its_reason(ws: Workspace) -> None:
    reason = _fails(ws, SourceUnreachable, "source down .* is unreachable", source="down")
    assert reason.startswith("source_unreachable:") and "127.0.0.1:1" in reason


def test_a_query_error_fails_the_job_naming_the_query(ws: Workspace) -> None:
    reason = _fails(ws, QueryFailed, "no such table", query="SELECT * FROM nowhere")
    assert reason.startswith("query_failed:") and "SELECT * FROM nowhere" in reason


def test_an_output_table_with_another_schema_is_refused_and_left_alone(
    ws: Workspace, url: str
) -> None:
    execute(url, "CREATE TABLE scores (id INTEGER, something TEXT)")
    reason = _fails(ws, InvalidInput, "exists with other columns")
    assert reason.startswith("output_schema:") and "something" in reason
    assert read_sql(url, "SELECT count(*) AS n FROM scores")["n"][0] == 0


def test_a_missing_column_fails_before_any_row_is_written(ws: Workspace, url: str) -> None:
    query = (
        "SELECT id, Geography, Gender, CreditScore, Age, Tenure, NumOfProducts, HasCrCard, "
        "IsActiveMember, EstimatedSalary FROM customers"
    )
    reason = _fails(ws, InvalidInput, "the input has no column Balance: the model", query=query)
    assert reason.startswith("missing_column:")
    assert not sa.inspect(sa.create_engine(url)).has_table("scores")


def test_a_missing_key_column_names_the_columns_there_are(ws: Workspace) -> None:
    reason = _fails(ws, InvalidInput, "key column customer_id", key="customer_id")
    assert "CreditScore" in reason


def test_a_malformed_row_fails_the_job_by_key_or_is_skipped_and_listed(
    ws: Workspace, url: str
) -> None:
    execute(url, "UPDATE customers SET Age = NULL WHERE id = 777")
    execute(url, "UPDATE customers SET Balance = 'lots' WHERE id = 901")
    reason = _fails(ws, InvalidInput, r"id = 777 cannot be scored: column Age")
    assert reason.startswith("malformed_row:")
    written = read_sql(url, "SELECT id FROM scores")
    assert written["id"].is_unique and written["id"].max() <= 500  # only the chunk before it

    job = ws.batch.score(
        "churn", source="wh", table="customers", key="id", output_table="skipped_scores",
        on_error="skip", chunk_rows=500,
    )  # fmt: skip

    assert job.status == "succeeded"
    assert [item["key"] for item in job.skipped] == [777, 901]
    assert "column Age" in job.skipped[0]["reason"]
    assert "column Balance" in job.skipped[1]["reason"]
    assert job.progress.done == ROWS - 2 and job.progress.skipped == 2
    scores = read_sql(url, "SELECT id FROM skipped_scores")
    assert len(scores) == ROWS - 2 and scores["id"].is_unique
    assert not {777, 901} & set(scores["id"])


def test_an_output_folder_that_cannot_be_written_fails_the_job(
    ws: Workspace, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    output = str(blocker / "o.parquet")
    reason = _fails(ws, InvalidInput, "cannot write to the output folder", output=output)
    assert reason.startswith("output_unwritable:")
    assert ws.batch.outputs("bad") == []
