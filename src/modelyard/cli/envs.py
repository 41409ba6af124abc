"""``modelyard envs list | prune``: the cached entry-script environments."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.render import when
from modelyard.deployments.env.prune import age_text, parse_age
from modelyard.errors import InvalidInput

if TYPE_CHECKING:
    from modelyard.workspace.environments import Environment, PruneReport

envs_app = typer.Typer(
    help="Entry-script environments: where each lives (here, the store), prune unused ones.",
    no_args_is_help=True,
)
SHOWN_REQUIREMENTS = 3


def size_text(size: int) -> str:
    """``812 B``, ``14.2 MB``, ``1.3 GB`` (powers of 1024, as ``du -h``)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def count_text(n: int) -> str:
    """``1 environment``, ``3 environments``."""
    return f"{n} environment" if n == 1 else f"{n} environments"


def requirements_text(lines: tuple[str, ...]) -> str:
    """The first few requirement lines, and how many more there are."""
    if not lines:
        return "(no packages)"
    shown = ", ".join(lines[:SHOWN_REQUIREMENTS])
    more = len(lines) - SHOWN_REQUIREMENTS
    return f"{shown} (+{more} more)" if more > 0 else shown


def environments_table(title: str, envs: Iterable[Environment]) -> Table:
    """One row per environment: hash, size, python, times, requirements, endpoints, where."""
    table = Table(title=title)
    columns = ["hash", "size", "python", "created (UTC)", "last used (UTC)", "requirements"]
    for column in [*columns, "endpoints", "state", "where"]:
        table.add_column(column)
    for env in envs:
        table.add_row(
            env.short,
            size_text(env.size_bytes),
            env.python or "-",
            when(env.created_at),
            when(env.last_used_at),
            escape(requirements_text(env.requirements)),
            escape(", ".join(env.endpoints)) or "-",
            env.status,
            _where(env),
        )
    return table


def _where(env: Environment) -> str:
    """``here``, or ``here + store: 14 wheels`` / ``store: lock only (cpython-312 …)``."""
    if env.published is None:
        return env.where
    shipped = f"{env.published.wheels} wheels" if env.published.wheels else "lock only"
    return escape(f"{env.where}: {shipped} ({env.published.platform}, {env.published.by})")


@envs_app.command("list")
def list_envs() -> None:
    """List cached environments with their size, python, last use and endpoints."""
    with state.open() as ws:
        envs = ws.environments.list()
        root = ws.environments.root
        shared = ws.environments.shared
    if not envs:
        console.print(f"No cached environments in {escape(str(root))}")
        return
    console.print(environments_table(f"Environments in {escape(str(root))}", envs))
    here = [env for env in envs if env.status != "published"]
    total = sum(env.size_bytes for env in here)
    console.print(f"{count_text(len(here))} built here, {size_text(total)}")
    if shared is not None:
        published = sum(1 for env in envs if env.published)
        console.print(
            f"{count_text(published)} published to {escape(shared.location)} (lock + wheels)"
        )


@envs_app.command("prune")
def prune_envs(
    older_than: Annotated[
        str, typer.Option(help="Remove only those not used for this long: 30m, 12h, 7d, 2w.")
    ] = "7d",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove environments no endpoint uses and not used for --older-than (default 7d).

    Environments in use by an endpoint, or being built, are never removed."""
    age = parse_age(older_than)  # a bad value fails before the workspace is opened
    with state.open() as ws:
        plan = ws.environments.prune(older_than=age, dry_run=True)
        if not plan.removed:
            _print_kept(plan)
            console.print(f"Nothing to prune: no unused environment older than {age_text(age)}")
            return
        console.print(environments_table("Unused environments", plan.removed))
        if dry_run:
            _print_kept(plan)
            console.print(
                f"Would remove {count_text(len(plan.removed))}, freeing "
                f"{size_text(plan.freed_bytes)} (dry run: nothing removed)"
            )
            return
        if not yes:
            _confirm(plan)
        done = ws.environments.prune(older_than=age, only={e.digest for e in plan.removed})
    _print_kept(done)
    console.print(f"Removed {count_text(len(done.removed))}, freed {size_text(done.freed_bytes)}")


def _confirm(plan: PruneReport) -> None:
    count, size = count_text(len(plan.removed)), size_text(plan.freed_bytes)
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"not removing {count} ({size}) without confirmation: pass --yes "
            "(or --dry-run to only list them)",
            code="confirmation_needed",
        )
    if not typer.confirm(f"Remove these {count} ({size})?", default=False):
        console.print("Nothing removed")
        raise typer.Exit(1)


def _print_kept(report: PruneReport) -> None:
    if report.kept:
        counts: dict[str, int] = {}
        for item in report.kept:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        console.print("Kept " + ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items())))
