"""`parzen study show`: a study in a few readable lines."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from parzen.cli.format import number


def _space_line(name: str, spec: Any) -> str:
    if not isinstance(spec, dict) or "type" not in spec:
        return f"{name} = {spec!r}"
    kind = spec["type"]
    if kind == "choice":
        options = [o.get("kind", "{...}") if isinstance(o, dict) else o for o in spec["options"]]
        return f"{name}: choice of {', '.join(map(str, options))}"
    if "low" in spec:
        log = " (log)" if spec.get("log") or kind.startswith("log") else ""
        return f"{name}: {kind} {number(spec['low'])} .. {number(spec['high'])}{log}"
    return f"{name}: {kind}"


def print_summary(console: Console, study: dict[str, Any]) -> None:
    budget = study["budget"]
    counts = study["counts"]
    table = Table(box=None, show_header=False, title=f"study {study['name']}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    goal = f"{study['direction']} {study['metric']}"
    table.add_row("state", study["state"])
    table.add_row("goal", goal)
    table.add_row("best", number(study["best_value"]))
    done = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()) if n) or "none yet"
    table.add_row("trials", f"{study['trials_created']} of {budget['max_trials']} ({done})")
    limits = [f"{budget['max_parallel']} in parallel"]
    if budget.get("timeout_seconds"):
        limits.append(f"timeout {number(budget['timeout_seconds'])} s")
    if budget.get("target_value") is not None:
        limits.append(f"stop at {number(budget['target_value'])}")
    table.add_row("budget", ", ".join(limits))
    table.add_row("algorithm", f"{study['algorithm']} (seed {study['seed']})")
    table.add_row("pruner", str(study["pruner"].get("type", "none")))
    objective = study["objective"]
    table.add_row(
        "objective", ", ".join(f"{k}={v}" for k, v in objective.items() if not isinstance(v, dict))
    )
    table.add_row("space", "\n".join(_space_line(k, v) for k, v in study["space"].items()))
    table.add_row("created", str(study["created_at"]))
    table.add_row("updated", str(study["updated_at"]))
    if study.get("finished_at"):
        table.add_row("finished", str(study["finished_at"]))
    console.print(table, highlight=False)
