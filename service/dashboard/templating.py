"""Jinja2 templates of the dashboard, and the filters they share."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
PLOTLY_VERSION = "4.1.1"  # plotly.js of the vendored bundle, static/vendor/ (in its URL)

templates = Jinja2Templates(directory=HERE / "templates")


def fmt_value(value: object) -> str:
    """A number as a person reads it: 4 significant digits, scientific notation where fixed
    notation would hide them (below 0.001, from 100,000 up); whole numbers stay whole."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    size = abs(value)
    if isinstance(value, int) and size < 100_000:
        return str(value)
    if size and (size < 1e-3 or size >= 1e5):
        mantissa, exponent = f"{value:.3e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:.4g}"


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "—"


templates.env.filters.update(value=fmt_value, iso=iso, utc=utc)
templates.env.globals.update(plotly_version=PLOTLY_VERSION)


# Scripts only from this server (Plotly's WebGL traces compile shaders with `new Function`,
# hence 'unsafe-eval'; it draws inline styles, hence 'unsafe-inline' for styles alone).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
