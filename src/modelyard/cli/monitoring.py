"""``modelyard monitor E``, ``modelyard endpoints collect E`` and ``modelyard webhooks …``."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.render import when
from modelyard.config.monitoring import parse_duration
from modelyard.errors import ConfigError, DeliveryFailed
from modelyard.monitoring.html import render_html
from modelyard.types import FEED_KINDS

if TYPE_CHECKING:
    from modelyard.monitoring.report import Report

webhooks_app = typer.Typer(
    help="Signed HTTP callbacks of registry, run and monitoring events.", no_args_is_help=True
)


def moment(text: str | None, where: str) -> datetime | None:
    """An ISO 8601 time (UTC unless it says), or a duration before now (``2h``, ``-2h``)."""
    if text is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text.lstrip("-"), where))
    except ConfigError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{where} {text!r}: give an ISO time (2026-01-31T08:00) or a duration ago (2h)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def drift_table(report: Report) -> Table:
    """One row per feature (and the prediction): method, statistic, threshold, drifted."""
    table = Table(title=f"Drift of {report.endpoint}")
    for column in ("feature", "kind", "method", "statistic", "threshold", "drifted", "psi", "rows"):
        table.add_column(
            column, justify="right" if column in ("statistic", "psi", "rows") else "left"
        )
    drift = report.drift
    if drift is None:
        return table
    rows = list(drift.features) + ([drift.prediction] if drift.prediction else [])
    for item in rows:
        table.add_row(
            item.feature,
            item.kind,
            item.method,
            _number(item.statistic),
            item.rule,
            "[red]yes[/]" if item.drifted else "no",
            _number(item.psi),
            str(item.rows),
        )
    return table


def _print(report: Report) -> None:
    console.print(
        f"[bold]{report.endpoint}[/]: {report.rows} rows, {report.requests} requests from "
        f"{when(report.span.since)} to {when(report.span.until)} UTC"
    )
    if report.reference:
        ref = report.reference
        console.print(f"  reference: {ref['model']}:{ref['version']} ({ref['rows']} training rows)")
    console.print(drift_table(report))
    if report.drift is not None:
        verdict = "[red]drifts[/]" if report.drift.dataset_drift else "does not drift"
        console.print(
            f"dataset {verdict}: {len(report.drift.drifted)} of {len(report.drift.features)} "
            f"features drifted (dataset drift from a share of {report.drift.share:g})"
        )
    for name, estimate in report.estimated.items():
        band = f"sampling band {estimate.low:.4f} to {estimate.high:.4f}"
        console.print(f"estimated {name}: {estimate.value:.4f} ({band})")
    for name, value in report.measured.items():
        console.print(f"measured {name}: {_number(value)} on {report.labelled} labelled rows")
    service = report.service
    latency = service.get("latency_ms") or {}
    if service.get("requests"):
        rate = service.get("error_rate") or 0.0
        console.print(
            f"latency p50 {_number(latency.get('p50'))} ms, p90 {_number(latency.get('p90'))} ms, "
            f"p99 {_number(latency.get('p99'))} ms; error rate {rate:.2%} "
            f"({service['errors']} of {service['requests']} requests)"
        )
    for note in report.notes:
        console.print(f"[yellow]note[/]: {note}", markup=True)


def monitor(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    window: Annotated[
        str | None, typer.Option(help="Span reported, e.g. 1h, 1d (default: the declared one).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Start: ISO time (UTC) or a duration ago (2h).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="End: ISO time (UTC) or a duration ago.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Drift per feature, estimated and measured performance, latency and error rate."""
    with state.open() as ws:
        report = ws.monitoring.report(
            endpoint,
            window=window,
            since=moment(since, "--since"),
            until=moment(until, "--until"),
            timeline=html is not None or as_json,
        )
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        _print(report)
    if html is not None:
        html.write_text(render_html(report.to_dict()), encoding="utf-8")
        console.print(f"wrote {html} ({html.stat().st_size / 1024:.0f} KiB)")


def collect(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    off: Annotated[bool, typer.Option("--off", help="Stop collecting.")] = False,
    sampling_rate: Annotated[
        float | None, typer.Option(help="Share of requests collected, 0 to 1.")
    ] = None,
) -> None:
    """Turn collection of an endpoint's scored rows on (or --off)."""
    with state.open() as ws:
        endpoint = ws.endpoints.collect(name, on=not off, sampling_rate=sampling_rate)
    if endpoint.collect:
        console.print(f"{name} collects {endpoint.sampling_rate:.0%} of its requests")
    else:
        console.print(f"{name} collects nothing")


@webhooks_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The receiver's URL.")],
    event: Annotated[
        list[str] | None,
        typer.Option(help=f"Only this kind (repeatable): {', '.join(FEED_KINDS)}."),
    ] = None,
) -> None:
    """Send events to URL from now on; prints the signing secret this once."""
    with state.open() as ws:
        hook, secret = ws.monitoring.webhooks.add(url, event or ())
    console.print(f"webhook {hook.id} -> {hook.url} ({', '.join(hook.events) or 'every event'})")
    console.print(f"  signing secret (shown once): {secret}", markup=False)
    console.print(
        "  verify X-Modelyard-Signature = sha256=HMAC-SHA256(secret, timestamp + '.' + body)"
    )


@webhooks_app.command("list")
def list_webhooks() -> None:
    """Every webhook, with its deliveries."""
    with state.open() as ws:
        hooks = ws.monitoring.webhooks.list()
        counts: dict[str, dict[str, int]] = {}
        for hook in hooks:
            tally: dict[str, int] = {}
            for item in ws.monitoring.webhooks.deliveries(hook.id, limit=1000):
                tally[item.state] = tally.get(item.state, 0) + 1
            counts[hook.id] = tally
    if not hooks:
        console.print("No webhooks yet: `modelyard webhooks add URL`.")
        return
    table = Table(title="Webhooks")
    for column in ("id", "url", "events", "delivered", "pending", "failed", "created (UTC)"):
        table.add_column(column)
    for hook in hooks:
        tally = counts[hook.id]
        table.add_row(
            hook.id,
            hook.url,
            ", ".join(hook.events) or "all",
            str(tally.get("delivered", 0)),
            str(tally.get("pending", 0)),
            str(tally.get("failed", 0)),
            when(hook.created_at),
        )
    console.print(table)


@webhooks_app.command("test")
def test(webhook: Annotated[str, typer.Argument(help="Webhook id (or a unique prefix).")]) -> None:
    """POST a signed ping event to the webhook now and show its answer."""
    with state.open() as ws:
        attempt = ws.monitoring.webhooks.test(webhook)
    if attempt.ok:
        console.print(f"ping delivered: {attempt.status}")
        return
    raise DeliveryFailed(
        f"the receiver answered {attempt.status}: {attempt.error}"
        if attempt.status
        else f"the receiver could not be reached: {attempt.error}"
    )


@webhooks_app.command("remove")
def remove(
    webhook: Annotated[str, typer.Argument(help="Webhook id (or a unique prefix).")],
) -> None:
    """Stop sending to a webhook and drop its delivery log."""
    with state.open() as ws:
        ws.monitoring.webhooks.remove(webhook)
    console.print(f"removed webhook {webhook}")
