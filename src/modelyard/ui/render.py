"""The Studio's Jinja2 environment and the one function that renders a page."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from modelyard.types import Action
from modelyard.ui.session import Visitor

TEMPLATES = Path(__file__).parent / "templates"
NAV = (
    ("models", "Models"),
    ("runs", "Runs"),
    ("endpoints", "Endpoints"),
    ("sources", "Sources"),
    ("monitoring", "Monitoring"),
    ("schedules", "Schedules & jobs"),
    ("people", "People"),
)


def when(value: datetime | None) -> str:
    """A UTC timestamp to the second, or an em dash."""
    if value is None:
        return "\u2014"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: Any, digits: int = 4) -> str:
    """A metric as people read it: 4 significant digits, an em dash for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    if isinstance(value, float):
        if abs(value) >= 10_000:  # prices, errors in currency: digits, not an exponent
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def signed(value: float | None) -> str:
    """A delta with its sign (``+0.012``)."""
    return "\u2014" if value is None else f"{value:+.4g}"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(when=when, number=number, signed=signed, tojson_pretty=json.dumps)


def page(
    request: Request,
    template: str,
    visitor: Visitor | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the visitor, the navigation and ``context``."""
    html = environment.get_template(template).render(
        request=request,
        visitor=visitor,
        nav=NAV,
        Action=Action,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
