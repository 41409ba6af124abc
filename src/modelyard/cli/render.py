"""Rich tables and panels for models, versions and events."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table

from modelyard.cli.context import console
from modelyard.registry.records import Event, Model, ModelVersion

if TYPE_CHECKING:
    from modelyard.workspace.endpoints import Endpoint


def when(moment: datetime) -> str:
    """A timestamp in UTC to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def models_table(models: Iterable[Model]) -> Table:
    """One row per model: latest version, champion, other aliases."""
    table = Table(title="Models")
    for column in ("name", "latest", "champion", "aliases", "created (UTC)"):
        table.add_column(column)
    for model in models:
        others = ", ".join(f"{a}={n}" for a, n in sorted(model.aliases.items()) if a != "champion")
        table.add_row(
            model.name + (" (archived)" if model.archived else ""),
            str(model.latest_version or "-"),
            str(model.aliases.get("champion", "-")),
            others or "-",
            when(model.created_at),
        )
    return table


def versions_table(name: str, versions: Iterable[ModelVersion]) -> Table:
    """One row per version of a model."""
    table = Table(title=f"Versions of {name}")
    for column in (
        "version",
        "status",
        "aliases",
        "flavour",
        "format",
        "metrics",
        "sha256",
        "created (UTC)",
    ):
        table.add_column(column)
    for item in versions:
        table.add_row(
            str(item.version),
            item.status.value,
            ", ".join(item.aliases) or "-",
            item.flavour.value,
            item.format.value,
            ", ".join(f"{k}={v:.4g}" for k, v in item.metrics.items()) or "-",
            item.sha256[:12],
            when(item.created_at),
        )
    return table


def version_table(item: ModelVersion) -> Table:
    """Every field of one version."""
    table = Table(title=f"{item.ref}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    signature = (
        ", ".join(f"{c.name}: {c.dtype}{'?' if c.nullable else ''}" for c in item.signature.inputs)
        if item.signature
        else "-"
    )
    rows = [
        ("status", item.status.value),
        ("aliases", ", ".join(item.aliases) or "-"),
        ("flavour / format", f"{item.flavour.value} / {item.format.value}"),
        ("sha256", item.sha256),
        ("size", f"{item.size:,} bytes"),
        ("files", ", ".join(f.name for f in item.manifest.files)),
        ("pickle allowed", "yes" if item.allow_pickle else "no"),
        ("signature", signature),
        ("metrics", json.dumps(dict(item.metrics)) if item.metrics else "-"),
        ("params", json.dumps(dict(item.params)) if item.params else "-"),
        ("tags", json.dumps(dict(item.tags)) if item.tags else "-"),
        ("lineage", json.dumps(dict(item.lineage), default=str) if item.lineage else "-"),
        ("description", item.description or "-"),
        ("created", f"{when(item.created_at)} UTC by {item.created_by}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def events_table(name: str, events: Iterable[Event]) -> Table:
    """The event log of a model."""
    table = Table(title=f"History of {name}")
    for column in ("#", "when (UTC)", "event", "alias", "from", "to", "who", "why"):
        table.add_column(column)
    for event in events:
        table.add_row(
            str(event.id),
            when(event.created_at),
            event.kind.value,
            event.alias or "-",
            "-" if event.from_version is None else str(event.from_version),
            "-" if event.to_version is None else str(event.to_version),
            event.actor,
            event.reason or "-",
        )
    return table


def print_created(endpoint: Endpoint, verb: str) -> None:
    """What ``endpoints create`` and ``deploy`` print: URIs, and the keys this once."""
    keys = endpoint.keys or {}
    console.print(f"Created endpoint [bold]{endpoint.name}[/] {verb} {endpoint.target}")
    console.print(f"  scoring URI: {endpoint.scoring_uri}")
    console.print(f"  swagger URI: {endpoint.swagger_uri}")
    if endpoint.auth_enabled:
        console.print(f"  primary key:   {keys.get('primary')}")
        console.print(f"  secondary key: {keys.get('secondary')}")
        console.print("[dim]Keys are stored hashed: copy them now.[/]")
    else:
        console.print("  no keys: served on loopback addresses only")


def rollout_lines(item: Endpoint) -> list[str]:
    """The endpoint's canary split and mirror, one line each."""
    split_text = ", ".join(f"{a}={w}" for a, w in (item.traffic or {}).items())
    shadow = item.mirror
    return [
        f"  traffic: {split_text or 'the target alone'}",
        f"  mirror: {shadow['alias']}={shadow['percent']:g}" if shadow else "  mirror: off",
    ]
