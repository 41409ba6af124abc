"""``modelyard models …``: list, show, register, promote, rollback, history, download, archive,
reproduce."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.context import console, state
from modelyard.cli.render import events_table, models_table, version_table, versions_table
from modelyard.errors import Conflict, InvalidInput
from modelyard.types import DEFAULT_ALIAS, Flavour, ModelRef

if TYPE_CHECKING:
    from modelyard.training.reproduce import Reproduction

app = typer.Typer(
    help="Register, inspect, promote and roll back model versions.", no_args_is_help=True
)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} {item!r} must look like key=value", code="invalid_option")
        out[key] = value
    return out


def _versioned(text: str) -> tuple[str, int]:
    ref = ModelRef.parse(text)
    if ref.version is None:
        raise InvalidInput(
            f"{text!r} names no version: write NAME:VERSION, for example {ref.name}:3",
            code="version_required",
        )
    return ref.name, ref.version


@app.command("list")
def list_models(
    archived: Annotated[bool, typer.Option("--archived", help="Include archived models.")] = False,
) -> None:
    """List the models with their latest version and champion."""
    with state.open() as ws:
        models = ws.models.list(include_archived=archived)
    if not models:
        console.print("No models yet: `modelyard models register PATH --name NAME` adds one.")
        return
    console.print(models_table(models))


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")]) -> None:
    """Show a model's versions, or one version in full."""
    with state.open() as ws:
        if ":" in ref or "@" in ref:
            console.print(version_table(ws.models.resolve(ref)))
        else:
            name = ModelRef.parse(ref).name
            console.print(versions_table(name, ws.models.versions(name)))


@app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="A model file or a folder of files.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    flavour: Annotated[
        Flavour | None, typer.Option(help="sklearn, xgboost, onnx or files (default: detected).")
    ] = None,
    main: Annotated[
        str | None, typer.Option(help="In a folder, the file holding the model.")
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle", help="Admins only: accept a pickle/joblib file (it can run code)."
        ),
    ] = False,
    metric: Annotated[list[str] | None, typer.Option(help="key=value, repeatable.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="key=value, repeatable.")] = None,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    promote: Annotated[bool, typer.Option("--promote", help="Make it champion at once.")] = False,
) -> None:
    """Register a file or folder as the next version of a model."""
    metrics: dict[str, float] = {}
    for key, value in _pairs(metric, "--metric").items():
        try:
            metrics[key] = float(value)
        except ValueError:
            raise InvalidInput(f"--metric {key}={value}: the value must be a number") from None
    with state.open() as ws:
        version = ws.models.register(
            name,
            path,
            flavour=flavour,
            main=main,
            allow_pickle=allow_pickle,
            metrics=metrics,
            tags=_pairs(tag, "--tag"),
            description=description,
        )
        console.print(
            f"Registered [bold]{version.ref}[/] ({version.flavour.value}, {version.format.value}, "
            f"sha256 {version.sha256[:12]}…)"
        )
        if promote:
            ws.models.promote(name, version.version, reason="registered with --promote")
            console.print(f"{version.ref} is now {DEFAULT_ALIAS}.")


@app.command("promote")
def promote(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION")],
    alias: Annotated[str, typer.Option(help="The alias to move.")] = DEFAULT_ALIAS,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the input signature breaks callers.")
    ] = False,
) -> None:
    """Point an alias (default: champion) at a version."""
    name, version = _versioned(ref)
    with state.open() as ws:
        event = ws.models.promote(name, version, alias=alias, reason=reason, force=force)
    if event is None:
        console.print(f"{name}:{version} already is {alias}; nothing changed.")
    else:
        before = "nothing" if event.from_version is None else f"version {event.from_version}"
        console.print(f"{alias} of {name}: {before} -> version {version}")


@app.command("approve")
def approve(ref: Annotated[str, typer.Argument(help="NAME:VERSION pending approval.")]) -> None:
    """Approve a version held by require_approval: it becomes champion."""
    name, version = _versioned(ref)
    with state.open() as ws:
        ws.models.approve(name, version)
    console.print(f"approved {name}:{version}: it is now {DEFAULT_ALIAS}")


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = DEFAULT_ALIAS,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Return an alias to the version it held before its current one."""
    with state.open() as ws:
        event = ws.models.rollback(name, alias=alias, reason=reason)
    console.print(
        f"{alias} of {name}: version {event.from_version} -> version {event.to_version} "
        "(rolled back)"
    )


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str | None, typer.Option(help="Only this alias's moves.")] = None,
) -> None:
    """Show registrations, promotions and rollbacks, oldest first."""
    with state.open() as ws:
        console.print(events_table(name, ws.models.history(name, alias=alias)))


@app.command("download")
def download(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    to: Annotated[Path, typer.Option("--to", help="Target folder.")] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files of the same names in the folder.")
    ] = False,
) -> None:
    """Write a version's verified files into a folder (never over existing files unless
    --force)."""
    with state.open() as ws:
        version = ws.models.resolve(ref)
        target = ws.models.download(version.ref, to, force=force)
    names = ", ".join(f.name for f in version.manifest.files)
    console.print(f"{version.ref}: wrote {names} into {target}")


@app.command("archive")
def archive(ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION.")]) -> None:
    """Archive a version (it can no longer be promoted) or a whole model."""
    parsed = ModelRef.parse(ref)
    with state.open() as ws:
        ws.models.archive(parsed.name, parsed.version)
    console.print(f"archived {parsed if parsed.version else parsed.name}")


@app.command("reproduce")
def reproduce(
    ref: Annotated[str, typer.Argument(help="NAME:VERSION of a trained version.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Refit even if the code or the packages differ."),
    ] = False,
    tolerance: Annotated[
        float, typer.Option(help="Largest difference of a metric that still reproduces.")
    ] = 1e-9,
) -> None:
    """Refit a version from its recorded lineage and set its metrics beside the recorded
    ones; exits 1 unless every metric reproduces."""
    name, version = _versioned(ref)
    with state.open() as ws:
        found = ws.models.reproduce(f"{name}:{version}", force=force, tolerance=tolerance)
    _print_reproduction(found)
    if not found.reproduced:
        raise Conflict(found.summary())


def _print_reproduction(found: Reproduction) -> None:
    from rich.markup import escape  # what only this command draws
    from rich.table import Table

    console.print(
        f"{found.ref}: refitted from training {found.training} on source {found.source}",
        soft_wrap=True,
    )
    for difference in found.forced:
        console.print(f"[yellow]forced over[/]: {escape(difference)}", soft_wrap=True)
    recorded = f"{found.rows_recorded} rows, fingerprint {str(found.fingerprint_recorded)[:12]}"
    now = f"{found.rows_now} rows, fingerprint {found.fingerprint_now[:12]}"
    if found.data_changed:
        console.print(
            f"[yellow]data fingerprint changed[/]: the source's rows changed since {found.ref} "
            f"was trained ({recorded}; now {now})",
            soft_wrap=True,
        )
    else:
        console.print(f"data fingerprint unchanged ({now})", soft_wrap=True)
    table = Table("metric", "recorded", "reproduced", "difference", "")
    for pair in found.metrics:
        delta = pair.difference
        table.add_row(
            pair.name,
            "-" if pair.recorded is None else f"{pair.recorded:.12g}",
            "-" if pair.reproduced is None else f"{pair.reproduced:.12g}",
            "-" if delta is None else f"{delta:.3g}",
            "ok" if pair.within(found.tolerance) else "differs",
        )
    console.print(table)
    if found.reproduced:
        console.print(f"[green]{found.summary()}[/]", soft_wrap=True)
