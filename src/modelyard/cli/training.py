"""``modelyard train``, ``modelyard runs …`` and ``modelyard demo-data``."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.render import when
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.training.journal import STAGES
from modelyard.types import RunState

if TYPE_CHECKING:
    from modelyard.storage.runs import Run

runs_app = typer.Typer(help="Inspect training runs.", no_args_is_help=True)

_LABELS = {
    "load": "load rows",
    "search": "search",
    "fit": "fit",
    "evaluate": "evaluate",
    "register": "register",
    "gate": "gate",
}


class RunFailed(ModelyardError):
    """A training run ended in failure (its error and logs are recorded)."""

    code = "run_failed"


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"--param {text!r} must look like key=value", code="invalid_option")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string
    return key, value


def train(
    name: Annotated[str, typer.Argument(help="A training declared in modelyard.toml.")],
    param: Annotated[
        list[str] | None, typer.Option(help="Estimator parameter key=value (repeatable).")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Run here and wait (default), or queue the run for a worker and print its id.",
        ),
    ] = True,
) -> None:
    """Run a training: load, fit, evaluate, register, gate."""
    params = dict(_param(p) for p in param or [])
    if not wait:
        with state.open() as ws:
            queued = ws.trainings.run(name, params=params, wait=False, trigger="cli")
        console.print(queued.id, highlight=False)
        console.print(
            f"queued run {queued.id[:8]} of {name}: a worker (`modelyard worker` or "
            f"`modelyard up`) runs it; `modelyard runs show {queued.id}` follows it",
            highlight=False,
            style="dim",
        )
        return
    with (
        state.open() as ws,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        tasks: dict[str, Any] = {}

        def on_stage(stage: str, detail: str) -> None:
            for other, task in tasks.items():
                if other != stage:
                    progress.update(task, completed=1, total=1)
            if stage in STAGES:
                label = f"{_LABELS[stage]} [dim]{detail}[/]"
                tasks[stage] = progress.add_task(label, total=None)

        run = ws.trainings.run(name, params=params, trigger="cli", on_stage=on_stage)
    _print_outcome(run)


def _print_outcome(run: Run) -> None:
    if run.state is RunState.FAILED:
        raise RunFailed(f"run {run.id[:8]} of {run.training} failed: {run.error}")
    if run.state is not RunState.SUCCEEDED:  # cancelled meanwhile (`modelyard runs cancel`)
        raise RunFailed(f"run {run.id[:8]} of {run.training} ended {run.state.value}")
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in run.metrics.items())
    console.print(f"run {run.id[:8]} succeeded: {run.rows} rows, {metrics}")
    if run.version is not None:
        console.print(f"registered {run.model}:{run.version}")
    if run.decision is not None:
        console.print(f"decision: {run.decision.reason}")


@runs_app.command("list")
def list_runs(
    training: Annotated[str | None, typer.Option(help="Only this training.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """List recent runs."""
    with state.open() as ws:
        runs = ws.runs.list(training, limit=limit)
    if not runs:
        console.print("No runs yet: `modelyard train NAME` starts one.")
        return
    table = Table(title="Runs")
    for column in (
        "id",
        "training",
        "state",
        "trigger",
        "started (UTC)",
        "s",
        "rows",
        "version",
        "decision",
    ):
        table.add_column(column)
    for run in runs:
        table.add_row(
            run.id[:8],
            run.training,
            run.state.value,
            run.trigger,
            when(run.started_at or run.created_at),
            f"{run.duration_s:.1f}" if run.duration_s is not None else "-",
            str(run.rows if run.rows is not None else "-"),
            str(run.version or "-"),
            run.decision.outcome.value if run.decision else (run.error or "-")[:60],
        )
    console.print(table)


@runs_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
) -> None:
    """Show one run: stages, metrics, version, decision, error."""
    with state.open() as ws:
        run = ws.runs.get(run_id)
    table = Table(title=f"Run {run.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("training", f"{run.training} -> model {run.model}"),
        ("state", run.state.value),
        ("trigger", f"{run.trigger} by {run.actor}"),
        ("params", str(dict(run.params)) if run.params else "-"),
        ("rows", str(run.rows if run.rows is not None else "-")),
        ("stages", ", ".join(f"{s['name']} {s['seconds']:.2f}s" for s in run.stages) or "-"),
        ("metrics", ", ".join(f"{k}={v:.6g}" for k, v in run.metrics.items()) or "-"),
        ("version", str(run.version or "-")),
        ("decision", run.decision.reason if run.decision else "-"),
        ("error", run.error or "-"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if run.trials:
        console.print(trials_table(run))


def trials_table(run: Run) -> Table:
    """One row per trial of the run's search: parameters, metrics or error, time, worker;
    the best one starred."""
    table = Table(title=f"Search: {len(run.trials)} trials")
    for column in ("trial", "params", "metrics", "s", "worker"):
        table.add_column(column)
    for trial in run.trials:
        params = ", ".join(f"{k}={v}" for k, v in trial["params"].items())
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in trial["metrics"].items())
        table.add_row(
            f"{trial['number']}{' *' if trial['best'] else ''}",
            escape(params),
            escape(metrics or f"failed: {trial['error']}"),
            f"{trial['seconds']:.2f}",
            escape(trial["worker"]),
        )
    return table


@runs_app.command("logs")
def run_logs(
    run_id: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
) -> None:
    """Print a run's logs: stages, the script's stdout/stderr, tracebacks."""
    with state.open() as ws:
        run = ws.runs.get(run_id)
    console.out(run.logs, end="")


@runs_app.command("cancel")
def cancel_run(
    run_id: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
) -> None:
    """Cancel a queued run now, or a running one at its next stage."""
    with state.open() as ws:
        run = ws.runs.cancel(run_id)
    if run.state is RunState.CANCELLED:
        console.print(f"cancelled run {run.id[:8]} of {run.training}")
    else:
        console.print(f"run {run.id[:8]} of {run.training} stops at its next stage")


def demo_data(
    dataset: Annotated[str, typer.Argument(help="immo or churn.")],
    source: Annotated[str, typer.Option(help="A source declared in modelyard.toml.")],
    rows: Annotated[int, typer.Option(help="How many rows.")] = 1000,
    table: Annotated[str | None, typer.Option(help="Table name (default: the data set's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    noisy: Annotated[
        bool, typer.Option("--noisy", help="immo: drown the signal in noise.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the table.")] = False,
) -> None:
    """Write a demo data set (seed 000's immo, seed 003's churn) into a source."""
    with state.open() as ws:
        written = ws.sources.demo_data(
            dataset, source, rows, table=table, seed=seed, noisy=noisy, replace=replace
        )
    console.print(f"wrote {written} {dataset} rows into {source}.{table or dataset}")
