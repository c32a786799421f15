"""The sealed test report as tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ranking_text(report: dict[str, Any]) -> str:
    if report.get("ranking_note"):
        return f"Ranking: {report['ranking_note']}."
    method = report.get("rank_correlation_method", "Spearman")
    return f"Rank correlation validation/test ({method}): {_fmt(report['rank_correlation'], 2)}."


def print_report(console: Console, name: str, body: dict[str, Any]) -> None:
    report = body["report"]
    if report is None:
        console.print(f"study {name} has no test report yet")
    else:
        pick = report["pick"]
        table = Table(
            title=f"{name}: {report['metric']} ({report['direction']}), "
            f"{report['test_rows']} test rows, mode {report['mode']}"
        )
        for column in ("trial", "validation (search)", "k-fold", "test", "± 2 SE", "gap", ""):
            table.add_column(column, justify="right")
        for row in report["candidates"]:
            marks = ("pick " if row["number"] == pick["number"] else "") + (
                "gap > 2 SE" if row["gap_warning"] else ""
            )
            table.add_row(
                str(row["number"]),
                _fmt(row["search_value"]),
                _fmt(row["kfold"]),
                _fmt(row["test"]),
                _fmt(2 * row["test_se"]),
                f"{row['gap']:+.4f}",
                marks,
            )
        ensemble = report["ensemble"]
        weights = ", ".join(f"#{n}: {w:.2f}" for n, w in ensemble["weights"].items())
        if ensemble.get("weighting", "fitted") != "fitted":
            weights += f" ({ensemble['weighting']})"
        table.add_row(
            "ensemble", _fmt(ensemble["validation"]), "-", _fmt(ensemble["test"]), "-", "-", weights
        )
        console.print(table)
        console.print(
            f"pick: trial {pick['number']} (by {pick['chosen_by']}; the naive pick was trial "
            f"{pick['naive_number']}), test {_fmt(pick['test'])}, gap {pick['gap']:+.4f}. "
            f"{_ranking_text(report)} "
            f"Ensemble beats the pick on validation: {ensemble['beats_pick_on_validation']}, "
            f"on test: {ensemble['beats_pick_on_test']}."
        )
        for warning in report["warnings"]:
            console.print(f"[yellow]warning[/yellow] {warning}")
    console.print(
        f"the test split has been used {body['test_uses']} time(s) (budget {body['test_budget']})"
    )
    for access in body["accesses"]:
        override = " [override]" if access["override"] else ""
        console.print(
            f"  {access['created_at']}  {access['kind']:9}  {access['actor']}  "
            f"trials {access['trial_numbers']}{override}"
        )
