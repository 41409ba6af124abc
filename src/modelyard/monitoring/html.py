"""The monitoring report as one self-contained HTML file: inline CSS and SVG, no script,
no request to anywhere, readable offline. It is drawn from the report's aggregates, so
its size depends on the features and the timeline, never on the rows collected."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

from modelyard.monitoring import svg

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;
background:#f4f6f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.sub{color:#5b6878;margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:20px;margin-top:2px}.card span{color:#5b6878;font-size:12px}
.bad b{color:#c53030}.good b{color:#23824f}.warn b{color:#b7791f}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde3ea;
border-radius:8px}
th,td{padding:6px 10px;border-bottom:1px solid #edf0f4;text-align:left;white-space:nowrap}
th{background:#f0f3f7;font-weight:600;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fdf0f0}.yes{color:#c53030;font-weight:600}
.grid{stroke:#e6eaef;stroke-width:1}.tick{font-size:10px;fill:#5b6878}.axis{font-size:10px;fill:#5b6878}
.limit{stroke:#d64545;stroke-width:1.2;stroke-dasharray:4 3}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 12px 6px}
figcaption{font-weight:600;font-size:13px;margin-bottom:4px}
figcaption small{color:#5b6878;font-weight:400}
svg{width:100%;height:auto;display:block}
.notes{color:#7a5a00;background:#fff8e1;border:1px solid #f0e0a0;border-radius:8px;padding:8px 14px}
footer{color:#7b8794;font-size:12px;margin-top:28px}
"""


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _time(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")


def _card(label: str, value: str, tone: str = "") -> str:
    return f'<div class="card {tone}"><span>{escape(label)}</span><b>{escape(value)}</b></div>'


def _cards(report: Mapping[str, Any]) -> str:
    drift = report.get("drift") or {}
    service = report.get("service") or {}
    perf = report.get("performance") or {}
    cards = [
        _card("rows scored", f"{report['rows']:,}"),
        _card("requests", f"{report['requests']:,}"),
    ]
    if drift:
        tone = "bad" if drift["dataset_drift"] else "warn" if drift["drifted"] else "good"
        features = drift["features"]
        cards.append(_card("drifted features", f"{len(drift['drifted'])} of {len(features)}", tone))
    for name, estimate in (perf.get("estimated") or {}).items():
        if name in ("accuracy", "roc_auc"):
            cards.append(
                _card(
                    f"estimated {name}",
                    f"{estimate['value']:.3f} ±{(estimate['high'] - estimate['low']) / 2:.3f}",
                )
            )
    for name, value in list((perf.get("measured") or {}).items())[:2]:
        cards.append(_card(f"measured {name}", _num(value, 3)))
    latency = service.get("latency_ms") or {}
    if latency:
        cards.append(
            _card(
                "latency p50 / p99",
                f"{_num(latency.get('p50'), 3)} / {_num(latency.get('p99'), 3)} ms",
            )
        )
    if service.get("error_rate") is not None:
        rate = service["error_rate"]
        cards.append(_card("error rate", f"{rate:.2%}", "bad" if rate > 0.01 else "good"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _drift_table(drift: Mapping[str, Any]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("feature", "kind", "method", "statistic", "threshold", "drifted", "PSI", "rows")
    )
    rows = []
    items = list(drift["features"]) + ([drift["prediction"]] if drift.get("prediction") else [])
    for item in items:
        drifted = item["drifted"]
        rows.append(
            f'<tr class="{"drift" if drifted else ""}"><td>{escape(item["feature"])}</td>'
            f"<td>{escape(item['kind'])}</td><td>{escape(item['method'])}</td>"
            f'<td class="num">{_num(item["statistic"])}</td><td>{escape(item["rule"])}</td>'
            f'<td class="{"yes" if drifted else ""}">{"yes" if drifted else "no"}</td>'
            f'<td class="num">{_num(item["psi"])}</td><td class="num">{item["rows"]:,}</td></tr>'
        )
    verdict = "drifts" if drift["dataset_drift"] else "does not drift"
    note = (
        f"<p class=sub>The dataset {verdict}: {len(drift['drifted'])} of {len(drift['features'])} "
        f"features drifted (dataset drift from a share of {drift['share']:g}).</p>"
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _distributions(distributions: Mapping[str, Any], drift: Mapping[str, Any] | None) -> str:
    drifted = set((drift or {}).get("drifted") or ())
    figures = []
    for name, item in distributions.items():
        reference = [float(v) for v in item["reference"]]
        current = [float(v) for v in item["current"]]
        ref_total, cur_total = sum(reference) or 1.0, sum(current) or 1.0
        if item["kind"] == "numeric":
            edges = item["edges"]
            labels = [svg.short(edges[i]) for i in range(len(edges) - 1)]
        else:
            labels = [str(c) for c in item["categories"]]
        chart = svg.bars(
            labels,
            {
                "reference": [v / ref_total for v in reference],
                "current": [v / cur_total for v in current],
            },
            title=f"{name}: reference and current distributions",
        )
        kind = "quantile bins of the reference" if item["kind"] == "numeric" else "categories"
        title = f"{name} (drifted)" if name in drifted else name
        figures.append(_figure(title, kind, chart))
    return f'<div class="charts">{"".join(figures)}</div>'


def _figure(title: str, note: str, chart: str) -> str:
    return (
        f"<figure><figcaption>{escape(title)} <small>{escape(note)}</small></figcaption>"
        f"{chart}</figure>"
    )


def _series(timeline: Sequence[Mapping[str, Any]], pick: Any) -> list[float | None]:
    out: list[float | None] = []
    for point in timeline:
        value = pick(point)
        out.append(None if value is None else float(value))
    return out


def _over_time(report: Mapping[str, Any]) -> str:
    timeline = report.get("timeline") or []
    if not timeline:
        return ""
    first, last = timeline[0]["start"], timeline[-1]["end"]
    long_span = datetime.fromisoformat(last) - datetime.fromisoformat(first) > timedelta(days=2)
    labels = [_time(p["start"])[5:10] if long_span else _time(p["start"])[11:] for p in timeline]
    drift = report.get("drift") or {}
    names = [f["feature"] for f in drift.get("features", [])]
    peaks = {n: max((p.get("psi", {}).get(n) or 0.0) for p in timeline) for n in names}
    shown = sorted(names, key=lambda n: (n not in set(drift.get("drifted") or ()), -peaks[n]))[:5]
    figures = []
    if shown:
        psi = {n: _series(timeline, lambda p, n=n: (p.get("psi") or {}).get(n)) for n in shown}
        chart = svg.lines(labels, psi, title="PSI over time", y_label="PSI", threshold=0.2)
        figures.append(_figure("Drift over time", "PSI per feature", chart))
    metrics: dict[str, list[float | None]] = {}
    for name in ("accuracy", "roc_auc"):
        estimated = _series(timeline, lambda p, k=name: (p.get("estimated") or {}).get(k))
        if any(v is not None for v in estimated):
            metrics[f"estimated {name}"] = estimated
        measured = _series(timeline, lambda p, k=name: (p.get("measured") or {}).get(k))
        if any(v is not None for v in measured):
            metrics[f"measured {name}"] = measured
    for name in ("r2",):
        measured = _series(timeline, lambda p, k=name: (p.get("measured") or {}).get(k))
        if any(v is not None for v in measured):
            metrics[f"measured {name}"] = measured
    if metrics:
        chart = svg.lines(labels, metrics, title="Performance over time", y_label="metric")
        figures.append(_figure("Performance over time", "estimated (CBPE) and measured", chart))
    latency = {
        key: _series(timeline, lambda p, k=key: (p.get("latency_ms") or {}).get(k))
        for key in ("p50", "p99")
    }
    chart = svg.lines(labels, latency, title="Latency over time", y_label="ms")
    figures.append(_figure("Latency", "p50 and p99 per part", chart))
    errors = {"error rate": _series(timeline, lambda p: p.get("error_rate"))}
    chart = svg.lines(labels, errors, title="Error rate", y_label="share", threshold=0.01)
    figures.append(_figure("Error rate", "share of requests answered 4xx/5xx", chart))
    rows = {"rows": [float(p.get("rows") or 0) for p in timeline]}
    chart = svg.lines(labels, rows, title="Rows over time", y_label="rows")
    figures.append(_figure("Rows scored", "per part of the span", chart))
    return f'<h2>Over time</h2><div class="charts">{"".join(figures)}</div>'


def render_html(report: Mapping[str, Any]) -> str:
    """The report (``Report.to_dict()``) as a standalone HTML page."""
    name = escape(report["endpoint"])
    reference = report.get("reference")
    against = (
        f"against {escape(reference['model'])}:{reference['version']} "
        f"({reference.get('rows') or '?'} training rows)"
        if reference
        else "without a reference profile"
    )
    drift = report.get("drift")
    parts = [
        f"<h1>Monitoring of {name}</h1>",
        f'<p class="sub">{_time(report["since"])} to {_time(report["until"])} UTC, {against}</p>',
        _cards(report),
    ]
    if report.get("notes"):
        items = "".join(f"<li>{escape(n)}</li>" for n in report["notes"])
        parts.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    if drift:
        parts += ["<h2>Drift per feature</h2>", _drift_table(drift)]
    if report.get("distributions"):
        parts += [
            "<h2>Reference and current distributions</h2>",
            _distributions(report["distributions"], drift),
        ]
    parts.append(_over_time(report))
    parts.append("<footer>modelyard monitoring report: self-contained, aggregates only.</footer>")
    body = "".join(parts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>Monitoring of {name}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
