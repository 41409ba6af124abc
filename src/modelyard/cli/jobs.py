"""``modelyard worker``, ``modelyard scheduler`` and ``modelyard schedules …``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modelyard.cli.background import in_threads, show_job_logs, stop_on_signal, wait
from modelyard.cli.context import console, state
from modelyard.cli.render import when

if TYPE_CHECKING:
    from modelyard.storage.schedules import Schedule

schedules_app = typer.Typer(help="Scheduled trainings: list, pause, resume.", no_args_is_help=True)

STOPPING = "stopping: finishing what is in hand (Ctrl+C again aborts)"


def worker(
    heartbeat: Annotated[
        float, typer.Option(help="Seconds between heartbeats; 3 missed ones fail the job.")
    ] = 2.0,
    poll: Annotated[float, typer.Option(help="Seconds between looks at an empty queue.")] = 0.5,
) -> None:
    """Run queued trainings until Ctrl+C or SIGTERM, finishing the job in hand."""
    show_job_logs()
    with state.open() as ws:
        runner = ws.queue.worker(heartbeat_s=heartbeat, poll_s=poll)
        console.print(
            f"worker {runner.name} waiting for trainings (heartbeat {heartbeat:g} s; "
            "Ctrl+C stops after the job in hand)"
        )
        with stop_on_signal(STOPPING) as stop, in_threads(stop, {"worker": runner.run}) as threads:
            wait(stop, threads)
    console.print(f"worker {runner.name} stopped")


def scheduler(
    tick: Annotated[float, typer.Option(help="Seconds between looks at the schedules.")] = 1.0,
    lease: Annotated[
        float, typer.Option(help="Seconds a leader holds the lease without renewing it.")
    ] = 10.0,
) -> None:
    """Store the declared schedules, then queue a run at each fire until Ctrl+C or SIGTERM.

    Any number may run: only the holder of the lease fires."""
    show_job_logs()
    with state.open() as ws:
        schedules = ws.queue.sync_schedules()
        print_schedules(schedules)
        runner = ws.queue.scheduler(lease_s=lease, tick_s=tick)
        console.print(f"scheduler {runner.holder} running (Ctrl+C stops)")
        with (
            stop_on_signal(STOPPING) as stop,
            in_threads(stop, {"scheduler": runner.run}) as threads,
        ):
            wait(stop, threads)
    console.print(f"scheduler {runner.holder} stopped")


def print_schedules(schedules: Iterable[Schedule]) -> None:
    """A table of schedules with their next fire time."""
    rows = list(schedules)
    if not rows:
        console.print(
            'No schedules: add schedule = "0 * * * *" (or "every 10m") to a [trainings.NAME] '
            "table; `modelyard up` or `modelyard scheduler` stores it.",
            markup=False,  # [trainings.NAME] is TOML, not Rich markup
        )
        return
    table = Table(title="Schedules")
    for column in ("training", "schedule", "state", "next fire (UTC)", "last fire (UTC)"):
        table.add_column(column)
    for item in rows:
        table.add_row(
            item.training,
            item.spec,
            "paused" if item.paused else "active",
            when(item.next_fire_at),
            when(item.last_fire_at) if item.last_fire_at else "-",
        )
    console.print(table)


@schedules_app.command("list")
def list_schedules() -> None:
    """List stored schedules and when each fires next."""
    with state.open() as ws:
        print_schedules(ws.queue.schedules.list())


@schedules_app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="The scheduled training.")]) -> None:
    """Stop a training's schedule from firing (a run in progress goes on)."""
    with state.open() as ws:
        ws.queue.set_paused(name, True)
    console.print(f"paused the schedule of {name}")


@schedules_app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="The scheduled training.")]) -> None:
    """Let a paused schedule fire again (missed fires coalesce into one)."""
    with state.open() as ws:
        ws.queue.set_paused(name, False)
    console.print(f"resumed the schedule of {name}")
