"""How the CLI writes numbers and trials: 4 significant digits, one column per parameter."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

FIXED_COLUMNS = ("number", "state", "value", "attempt", "last_step")


def number(value: Any) -> str:
    """A value as a person reads it: 4 significant digits, scientific notation only where
    fixed notation would hide the digits (below 0.001 or from 100,000 up); ints stay whole."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.3e}"
    return f"{value:.4g}"


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested choices as dotted names: {"layer": {"kind": "conv"}} -> {"layer.kind": "conv"}."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def param_columns(trials: list[dict[str, Any]]) -> list[str]:
    """Every parameter name seen on the page, in the order they first appear."""
    seen: dict[str, None] = {}
    for trial in trials:
        seen.update(dict.fromkeys(flatten(trial["params"])))
    return list(seen)


def trial_rows(trials: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Column names and raw cells (a missing parameter is None: its branch was not taken)."""
    params = param_columns(trials)
    rows = []
    for trial in trials:
        flat = flatten(trial["params"])
        rows.append([trial.get(c) for c in FIXED_COLUMNS] + [flat.get(p) for p in params])
    return [*FIXED_COLUMNS, *params], rows


def to_csv(columns: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return out.getvalue()


def server_order(order: str, direction: str) -> str:
    """The API's order for a CLI order: "best" and "worst" follow the study's direction."""
    best = "value" if direction == "minimize" else "-value"
    worst = "-value" if direction == "minimize" else "value"
    return {"best": best, "worst": worst}.get(order, order)
