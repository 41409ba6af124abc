"""Server-rendered SVG charts: a metric across versions, and a column's histogram. Each
is an ``<svg role="img">`` with a title that says what it shows; the page has the same
numbers in a table beside it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 28


def _scale(low: float, high: float, size: float, flip: bool) -> tuple[float, float]:
    span = (high - low) or 1.0
    factor = size / span
    return (-factor, size + low * factor) if flip else (factor, -low * factor)


def metric_chart(
    title: str, points: Sequence[tuple[int, float]], highlight: int | None = None
) -> Markup:
    """A line of ``(version, value)``; the ``highlight`` version (the champion) ringed."""
    shown = [(x, y) for x, y in points if not math.isnan(y)]
    label = escape(title)
    if not shown:
        return Markup(f'<p class="muted">No {label} recorded yet.</p>')  # noqa: S704 (escaped)
    xs, ys = [x for x, _ in shown], [y for _, y in shown]
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    low, high = low - pad, high + pad
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ax, bx = _scale(min(xs) - 0.5, max(xs) + 0.5, inner_w, flip=False)
    ay, by = _scale(low, high, inner_h, flip=True)

    def px(x: float) -> float:
        return round(LEFT + ax * x + bx, 1)

    def py(y: float) -> float:
        return round(TOP + ay * y + by, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" '
        'class="axis"/>',
    ]
    for value in (low + pad, (low + high) / 2, high - pad):
        parts.append(
            f'<text x="{LEFT - 6}" y="{py(value) + 4}" class="tick" text-anchor="end">'
            f"{_tick(value)}</text>"
            f'<line x1="{LEFT}" y1="{py(value)}" x2="{WIDTH - RIGHT}" y2="{py(value)}" '
            'class="grid"/>'
        )
    step = max(1, len(xs) // 12)
    for x in xs[::step]:
        parts.append(
            f'<text x="{px(x)}" y="{HEIGHT - 8}" class="tick" text-anchor="middle">v{x}</text>'
        )
    path = " ".join(f"{px(x)},{py(y)}" for x, y in shown)
    parts.append(f'<polyline points="{path}" class="series"/>')
    if len(shown) <= 60:
        parts.extend(f'<circle cx="{px(x)}" cy="{py(y)}" r="3" class="dot"/>' for x, y in shown)
    for x, y in shown:
        if x == highlight:
            parts.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="7" class="champion-ring"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def histogram(title: str, edges: Sequence[float], counts: Sequence[int]) -> Markup:
    """Bars of ``counts`` between consecutive ``edges``."""
    label = escape(title)
    if not counts:
        return Markup("")
    width, height, top = 240, 80, 4
    peak = max(counts) or 1
    bar = width / len(counts)
    parts = [
        f'<svg class="hist" viewBox="0 0 {width} {height + 22}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
    ]
    for i, count in enumerate(counts):
        h = round(height * count / peak, 1)
        parts.append(
            f'<rect x="{round(i * bar + 1, 1)}" y="{round(top + height - h, 1)}" '
            f'width="{round(max(bar - 2, 1), 1)}" height="{h}" class="bar"/>'
        )
    if edges:
        parts.append(
            f'<text x="0" y="{top + height + 14}" class="tick">{_tick(edges[0])}</text>'
            f'<text x="{width}" y="{top + height + 14}" class="tick" text-anchor="end">'
            f"{_tick(edges[-1])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def _tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
