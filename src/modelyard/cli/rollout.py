"""``modelyard endpoints update E`` (target, canary split, mirror) and
``modelyard endpoints compare E`` (what the mirror found)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.render import rollout_lines, when
from modelyard.cli.serving import split_names
from modelyard.storage.rollout import parse_mirror, parse_traffic

if TYPE_CHECKING:
    from modelyard.storage.comparisons import Comparison


def update(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    model: Annotated[
        str | None, typer.Option(help="Serve this reference: immo, immo@champion or immo:3.")
    ] = None,
    traffic: Annotated[
        str | None,
        typer.Option(
            help="Answer each request from one alias by weight: champion=90,challenger=10 "
            "(whole percentages summing to 100); off turns the split off."
        ),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            help="Also score this share of requests on an alias after answering, to "
            "compare: challenger=20 (percent); off turns the mirror off."
        ),
    ] = None,
    output_names: Annotated[
        str | None,
        typer.Option(
            help="Name the outputs, comma-separated (e.g. result); off: the defaults again."
        ),
    ] = None,
) -> None:
    """Retarget an endpoint, split its traffic between aliases, mirror it, or name its
    outputs."""
    split = parse_traffic(traffic) if traffic is not None else None
    copy = parse_mirror(mirror) if mirror is not None else None
    with state.open() as ws:
        if output_names is not None:
            names = [] if output_names.strip() == "off" else split_names(output_names)
            item = ws.endpoints.name_outputs(name, names)
            console.print(
                f"[bold]{item.name}[/] outputs: {', '.join(item.output_names) or 'defaults'}"
            )
            if model is None and traffic is None and mirror is None:
                return
        item = ws.endpoints.update(
            name,
            model=model,
            traffic=split,
            mirror=({copy.alias: copy.percent} if copy else {}) if mirror is not None else None,
        )
    console.print(f"[bold]{item.name}[/]: {item.target}")
    for line in rollout_lines(item):
        console.print(line, markup=False)


def compare(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What the endpoint's mirror found: agreement of classes or differences of numbers,
    and the latency of both, per (answering, mirrored) version pair."""
    with state.open() as ws:
        found = ws.endpoints.comparison(name)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in found], indent=2))
        return
    if not found:
        console.print(
            f"No comparisons for {name} yet: "
            f"`modelyard endpoints update {name} --mirror challenger=20` starts a mirror."
        )
        return
    console.print(comparison_table(name, found))


def comparison_table(name: str, found: list[Comparison]) -> Table:
    """One row per (answering, mirrored) version pair."""
    table = Table(title=f"Mirror comparisons of {name}")
    columns = (
        "answered",
        "mirrored",
        "requests",
        "failed",
        "rows",
        "agreement",
        "mean |diff|",
        "max |diff|",
        "ms answered (mean/max)",
        "ms mirrored (mean/max)",
        "last",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("mirrored", "last") else "right")
    for c in found:
        table.add_row(
            f"v{c.answered_version}",
            f"{c.mirrored_alias} (v{c.mirrored_version})",
            str(c.requests),
            str(c.failed),
            str(c.rows),
            "-" if c.agreement is None else f"{c.agreement:.2%}",
            "-" if c.mean_abs_diff is None else f"{c.mean_abs_diff:.4g}",
            "-" if c.max_abs_diff is None else f"{c.max_abs_diff:.4g}",
            f"{c.answered_ms_mean:.2f}/{c.answered_ms_max:.2f}",
            f"{c.mirrored_ms_mean:.2f}/{c.mirrored_ms_max:.2f}",
            when(c.last_at),
        )
    return table
