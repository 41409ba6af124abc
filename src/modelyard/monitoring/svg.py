"""Small inline SVG charts for the HTML report: grouped bars and lines, nothing else.

Every chart is a ``<svg>`` with a ``viewBox`` (it scales to its container) and its own
axis labels; values are escaped; missing points (None) break a line instead of
dropping to zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2f6fde", "#d64545", "#2a9d6f", "#e0a030", "#7b5cc4", "#1f9bb4", "#c05a9b", "#6b7785")
REFERENCE = "#a9b3bf"
CURRENT = "#2f6fde"
WIDTH, HEIGHT = 420, 200
LEFT, RIGHT, TOP, BOTTOM = 58, 10, 12, 52


def short(value: float) -> str:
    """A number in a few characters: ``57.6k``, ``1.2M``, ``0.034``, ``3e-05``."""
    size = abs(value)
    if value == 0:
        return "0"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    if size < 0.01:
        return f"{value:.1g}"
    return f"{value:.3g}"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / count
    return [low + step * i for i in range(count + 1)]


def _frame(ticks: Sequence[float], top: float, label: str) -> list[str]:
    inner = HEIGHT - TOP - BOTTOM
    parts = []
    for tick in ticks:
        y = TOP + inner * (1 - (tick / top if top else 0))
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{y + 3:.1f}" class="tick" '
            f'text-anchor="end">{short(tick)}</text>'
        )
    middle = TOP + inner / 2
    parts.append(
        f'<text x="10" y="{middle:.1f}" class="axis" transform="rotate(-90 10 {middle:.1f})" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    return parts


def _svg(parts: Sequence[str], title: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _legend(names: Sequence[str], colours: Sequence[str]) -> str:
    """Swatches and names under the chart, on a second line when they do not fit one."""
    x: float = LEFT
    line = 0
    parts = []
    for name, colour in zip(names, colours, strict=True):
        width = 18 + 5.6 * len(name)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, line = LEFT, line + 1
        y = HEIGHT - 16 + 12 * line
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 8}" width="9" height="9" fill="{colour}"/>'
            f'<text x="{x + 12:.1f}" y="{y}" class="tick">{escape(name)}</text>'
        )
        x += width
    return "".join(parts)


def bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    y_label: str = "share of rows",
    colours: Sequence[str] = (REFERENCE, CURRENT),
) -> str:
    """Grouped bars, one group per label, one bar per series (e.g. reference, current)."""
    names = list(series)
    top = max((v for values in series.values() for v in values), default=0.0) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = inner_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(names))
    parts = _frame(_ticks(0.0, top), top, y_label)
    for i, label in enumerate(labels):
        x0 = LEFT + group * i + group * 0.1
        for j, name in enumerate(names):
            value = float(series[name][i])
            h = inner_h * value / top
            tip = f"{escape(name)} {escape(label)}: {value:.3f}"
            parts.append(
                f'<rect x="{x0 + bar * j:.1f}" y="{TOP + inner_h - h:.1f}" '
                f'width="{max(bar - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{colours[j % len(colours)]}"><title>{tip}</title></rect>'
            )
        every = max(1, math.ceil(len(labels) / 6))
        if i % every == 0:
            parts.append(
                f'<text x="{x0 + group * 0.4:.1f}" y="{TOP + inner_h + 12}" class="tick" '
                f'text-anchor="middle">{escape(label[:10])}</text>'
            )
    parts.append(_legend(names, [colours[j % len(colours)] for j in range(len(names))]))
    return _svg(parts, title)


def lines(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    y_label: str,
    threshold: float | None = None,
) -> str:
    """One line per series over ``x_labels``; a dashed red line at ``threshold``."""
    values = [v for s in series.values() for v in s if v is not None and not math.isnan(v)]
    top = max([*values, threshold or 0.0], default=0.0)
    top = top * 1.1 if top > 0 else 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(1, len(x_labels) - 1)
    parts = _frame(_ticks(0.0, top), top, y_label)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    for (name, points), colour in zip(series.items(), colours, strict=True):
        path, pen = [], "M"
        for i, value in enumerate(points):
            if value is None or math.isnan(value):
                pen = "M"
                continue
            x, y = LEFT + step * i, TOP + inner_h * (1 - value / top)
            path.append(f"{pen}{x:.1f},{y:.1f}")
            pen = "L"
        if path:
            parts.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.8">'
                f"<title>{escape(name)}</title></path>"
            )
    if threshold is not None:
        y = TOP + inner_h * (1 - threshold / top)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="limit"/>'
        )
    every = max(1, math.ceil(len(x_labels) / 5))
    for i, label in enumerate(x_labels):
        if i % every == 0:
            parts.append(
                f'<text x="{LEFT + step * i:.1f}" y="{TOP + inner_h + 12}" class="tick" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(_legend(list(series), colours))
    return _svg(parts, title)
