"""``modelyard batch score|list|show|cancel``: batch scoring jobs from the terminal."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from modelyard.batch.spec import DEFAULT_CHUNK_ROWS, BatchSpec
from modelyard.cli.context import console, state
from modelyard.cli.render import when

if TYPE_CHECKING:
    from modelyard.storage.batch import BatchRow
    from modelyard.workspace.batch import Batch

batch_app = typer.Typer(
    help="Batch scoring: a model over a SQL query or table, into a table or files.",
    no_args_is_help=True,
)


@batch_app.command("score")
def score(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION (pinned now).")],
    source: Annotated[str, typer.Option(help="The [sources.NAME] to read.")],
    key: Annotated[str, typer.Option(help="The input's unique column; chunks page on it.")],
    query: Annotated[str | None, typer.Option(help="The rows to score (SQL).")] = None,
    table: Annotated[str | None, typer.Option(help="Or a whole table to score.")] = None,
    output_table: Annotated[
        str | None, typer.Option(help="Write the rows into this table (created if missing).")
    ] = None,
    output_source: Annotated[
        str | None, typer.Option(help="The source holding --output-table (default --source).")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(help="Or write chunk files into this folder: PATH.parquet, PATH.csv, URL."),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(help="Rows per chunk (each committed with its watermark).")
    ] = DEFAULT_CHUNK_ROWS,
    job_id: Annotated[
        str | None, typer.Option(help="The job's id; the same id again resumes the job.")
    ] = None,
    on_error: Annotated[
        str, typer.Option(help="A malformed row: skip (listed on the job) or fail the job.")
    ] = "fail",
    partitions: Annotated[
        int, typer.Option(help="Key ranges scored at once on the [executor] (integer keys).")
    ] = 1,
) -> None:
    """Score rows of a SQL source with a model version, exactly once, resumable by --job-id."""
    spec = BatchSpec(
        model=model, source=source, key=key, query=query, table=table,
        output_table=output_table, output_source=output_source, output=output,
        chunk_rows=chunk_rows, on_error=on_error, partitions=partitions,
    )  # fmt: skip
    with state.open() as ws:
        job = ws.batch.submit(spec, job_id)
        row = job.row
        console.print(
            f"batch job {job.id}: {row.model}:{row.version} -> {escape(spec.output_description())}"
        )
        _run_with_progress(ws.batch, job.id)
        row = job.row
        console.print(
            f"[green]{row.state}[/]: {row.rows_done} rows scored, {row.rows_skipped} skipped "
            f"-> {escape(', '.join(ws.batch.outputs(job.id)[:3]))}"
        )
        for item in row.skipped[:10]:
            console.print(f"  skipped {escape(str(item['key']))}: {escape(str(item['reason']))}")


def _run_with_progress(batch: Batch, job_id: str) -> None:
    """Run the job in a thread while a bar follows its row in the registry."""
    failure: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            batch.run(job_id, stop=stop)
        except BaseException as exc:  # re-raised in the main thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="batch-score", daemon=True)
    columns = (
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("score", total=None, rate="")
        worker.start()
        try:
            while worker.is_alive():  # not worker.join(0.3): see sleep_while_alive
                time.sleep(0.3)
                _show(bar, task, batch.store.get(job_id))
        except KeyboardInterrupt:
            stop.set()
            worker.join()
            raise
        _show(bar, task, batch.store.get(job_id))
    if failure:
        raise failure[0]


def _show(bar: Progress, task: object, row: BatchRow) -> None:
    done = row.rows_done + row.rows_skipped
    speed = bar.tasks[0].speed if bar.tasks else None
    rate = f"{speed:,.0f} rows/s" if speed else ""
    bar.update(task, completed=done, total=row.rows_total, rate=rate)  # type: ignore[arg-type]


@batch_app.command("list")
def list_jobs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """The newest batch jobs: state, model version, rows, error."""
    with state.open() as ws:
        rows = ws.batch.list(limit=limit)
    if not rows:
        console.print("No batch jobs yet: `modelyard batch score MODEL --source S ...` runs one.")
        return
    table = Table(title="Batch jobs")
    for column in ("id", "state", "model", "rows", "skipped", "created (UTC)", "error"):
        table.add_column(column)
    for row in rows:
        total = f"/{row.rows_total}" if row.rows_total is not None else ""
        table.add_row(
            row.id,
            row.state,
            f"{row.model}:{row.version}",
            f"{row.rows_done}{total}",
            str(row.rows_skipped),
            when(row.created_at),
            escape(row.error or ""),
        )
    console.print(table)


@batch_app.command("show")
def show(job_id: Annotated[str, typer.Argument(help="The batch job's id.")]) -> None:
    """One batch job: its spec, state, progress, outputs and skipped rows."""
    with state.open() as ws:
        row = ws.batch.store.get(job_id)
        outputs = ws.batch.outputs(job_id)
    spec = {k: v for k, v in row.spec.items() if v is not None and k not in ("ranges", "runners")}
    console.print(f"batch job {row.id}: [bold]{row.state}[/]")
    console.print(f"  model    {row.model}:{row.version} (pinned at submit)")
    for name, value in spec.items():
        console.print(f"  {name:<8} {escape(str(value))}")
    total = row.rows_total if row.rows_total is not None else "?"
    console.print(f"  rows     {row.rows_done} of {total} scored, {row.rows_skipped} skipped")
    runners = row.spec.get("runners") or {}
    for part, (after, upto) in enumerate(row.spec.get("ranges") or []):
        where = runners.get(str(part), "-")
        console.print(f"  part {part}   {row.spec['key']} in ({after}, {upto}] on {where}")
    if row.error:
        console.print(f"  [red]error[/]    {escape(row.error)}")
    for path in outputs[:20]:
        console.print(f"  output   {escape(path)}")
    for item in row.skipped[:20]:
        console.print(f"  skipped  {escape(str(item['key']))}: {escape(str(item['reason']))}")


@batch_app.command("cancel")
def cancel(job_id: Annotated[str, typer.Argument(help="The batch job's id.")]) -> None:
    """Cancel a queued job, or a running one before its next chunk."""
    with state.open() as ws:
        row = ws.batch.cancel(job_id)
    console.print(f"batch job {row.id}: {row.state}")
