"""The tables, the anytime plot and the headline of the pruning benchmark (bench/pruning.py).

Runs are compared on a grid of epoch budgets, every third of a trial's epochs: a method's
anytime value at a budget is the mean over seeds of the best final validation accuracy it
had found once that many epochs were spent (NaN while a seed has no complete trial yet).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.pruning_curves import EPOCHS, Curves

if TYPE_CHECKING:
    from bench.pruning import Run

PNG = Path(__file__).parent / "data" / "pruning_anytime.png"
HALVING_METHODS = ("parzen tpe + asha", "parzen tpe + hyperband")  # the headline's
PARZEN_PRUNERS = ("parzen tpe + median", *HALVING_METHODS)
OPTUNA_PRUNERS = ("optuna tpe + median", "optuna tpe + sha", "optuna tpe + hyperband")
Results = dict[tuple[str, str], list["Run"]]


def mean_se(values: list[float]) -> tuple[float, float]:
    data = np.array([v for v in values if not math.isnan(v)])
    if len(data) < len(values) or not len(data):
        return math.nan, math.nan
    se = float(data.std(ddof=1) / math.sqrt(len(data))) if len(data) > 1 else 0.0
    return float(data.mean()), se


def marks(budget: int) -> list[int]:
    return list(range(EPOCHS, budget + 1, EPOCHS // 3))


def anytime(runs: list[Run], spent: int) -> tuple[float, float]:
    return mean_se([run.best_at(spent)[0] for run in runs])


def epochs_to_reach(runs: list[Run], target: float, budget: int) -> float:
    """The first mark at which the seeds' mean best reaches `target`."""
    for spent in marks(budget):
        mean, _ = anytime(runs, spent)
        if not math.isnan(mean) and mean >= target:
            return spent
    return math.inf


def report(tasks: list[Curves], methods: list[str], results: Results, budget: int) -> None:
    from rich.console import Console

    console = Console(width=150)
    ratios: dict[str, list[float]] = {}
    for curves in tasks:
        console.print(task_table(curves.name, methods, results, budget, ratios))
    plot(tasks, methods, results, budget)
    console.print(summary_table(tasks, methods, ratios))
    console.print(promotion_table(methods, results))
    if all(m in methods for m in OPTUNA_PRUNERS):
        parzen = [m for m in PARZEN_PRUNERS if m in methods]
        console.print(anytime_table(tasks, parzen, results, budget))
    halving = [m for m in methods if m in HALVING_METHODS]
    headline = min((float(np.mean(ratios[m])) for m in halving), default=math.nan)
    print(f"pruning_epochs_ratio_at_equal_quality: {headline:.2f}")


def task_table(
    task: str, methods: list[str], results: Results, budget: int, ratios: dict[str, list[float]]
) -> Any:
    """Per method: trials, trials trained to the end, repeats of a configuration already
    trained to the end / already stopped (mean a seed), best val and its test, the anytime
    value at a half and three quarters of the budget, and the epochs to TPE's quality."""
    from rich.table import Table

    target_mean, target_se = anytime(results[(task, "parzen tpe")], budget)
    target = target_mean - target_se
    title = f"{task}: {budget} epochs; TPE-without-pruning's quality (- 1 SE): {target:.4f}"
    table = Table(title=title, min_width=120)
    for column in ("method", "trials", "to the end", "repeats", "best val", "its test"):
        table.add_column(column, justify="left" if column == "method" else "right")
    quarters = [budget // 4, budget // 2, 3 * budget // 4]
    for mark in quarters:
        table.add_column(f"best val @{mark}", justify="right")
    table.add_column("epochs to TPE's quality", justify="right")
    for method in methods:
        runs = results[(task, method)]
        reach = epochs_to_reach(runs, target, budget)
        ratios.setdefault(method, []).append(reach / budget)
        table.add_row(
            method,
            f"{np.mean([r.trials for r in runs]):.0f}",
            f"{np.mean([r.completed for r in runs]):.0f}",
            f"{np.mean([r.repeated_complete for r in runs]):.0f}"
            f" / {np.mean([r.repeated_pruned for r in runs]):.0f}",
            _shown(anytime(runs, budget)),
            _shown(mean_se([run.best_at(budget)[1] for run in runs])),
            *(_shown(anytime(runs, m)) for m in quarters),
            f"{reach:.0f} ({reach / budget:.2f})" if math.isfinite(reach) else "never",
        )
    return table


def summary_table(tasks: list[Curves], methods: list[str], ratios: dict[str, list[float]]) -> Any:
    from rich.table import Table

    summary = Table(title="epochs to reach TPE-without-pruning's final quality / its budget")
    summary.add_column("method")
    for curves in tasks:
        summary.add_column(curves.name, justify="right")
    summary.add_column("mean", justify="right")
    for method in methods:
        shares = ratios[method]
        summary.add_row(method, *(f"{s:.2f}" for s in shares), f"{np.mean(shares):.2f}")
    return summary


def promotion_table(methods: list[str], results: Results) -> Any:
    from rich.table import Table

    promotion = Table(title="would promotion pay? trials stopped at a rung, summed over seeds")
    for column in ("task", "method", "stopped", "in the rung's top at the end", "would beat"):
        promotion.add_column(column)
    for (task, method), runs in results.items():
        if method in methods and any(r.stopped for r in runs):
            sums = [
                sum(getattr(r, f) for r in runs)
                for f in ("stopped", "promotable", "promotable_better")
            ]
            promotion.add_row(task, method, *(str(v) for v in sums))
    return promotion


def against_optuna(
    parzen: list[Run], optuna: list[list[Run]], budget: int
) -> tuple[int, int, int, float, int]:
    """At every mark, Parzen's anytime value against the best of Optuna's at that mark:
    (marks compared, marks at least as good, marks within the larger of the two standard
    errors, the largest shortfall, the mark of it). A mark where neither has a complete
    trial on every seed is not compared; one where only Parzen lacks it is a shortfall of 1."""
    compared = ahead = level = 0
    worst, worst_at = 0.0, 0
    for spent in marks(budget):
        mine, my_se = anytime(parzen, spent)
        theirs = [anytime(runs, spent) for runs in optuna]
        theirs = [t for t in theirs if not math.isnan(t[0])]
        if not theirs and math.isnan(mine):
            continue
        compared += 1
        best, best_se = max(theirs, default=(-math.inf, 0.0))
        gap = 1.0 if math.isnan(mine) else best - mine
        ahead += gap <= 0
        level += gap <= max(my_se, best_se)
        if gap > worst:
            worst, worst_at = gap, spent
    return compared, ahead, level, worst, worst_at


def anytime_table(tasks: list[Curves], parzen: list[str], results: Results, budget: int) -> Any:
    from rich.table import Table

    table = Table(
        title="anytime: Parzen against Optuna's best TPE pruner at each mark (every "
        f"{EPOCHS // 3} epochs from {EPOCHS})"
    )
    for column in ("task", "method", "marks", "≥ Optuna's best", "within 1 SE", "worst gap"):
        table.add_column(column, justify="left" if column in ("task", "method") else "right")
    for curves in tasks:
        optuna = [results[(curves.name, m)] for m in OPTUNA_PRUNERS]
        for method in parzen:
            compared, ahead, level, worst, at = against_optuna(
                results[(curves.name, method)], optuna, budget
            )
            table.add_row(
                curves.name,
                method,
                str(compared),
                str(ahead),
                str(level),
                f"{worst:.4f} @{at}" if worst > 0 else "none",
            )
    return table


def _shown(pair: tuple[float, float]) -> str:
    mean, se = pair
    return "-" if math.isnan(mean) else f"{mean:.4f} ± {se:.4f}"


def plot(tasks: list[Curves], methods: list[str], results: Results, budget: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    spent = marks(budget)
    for axis, curves in zip(axes[0], tasks, strict=True):
        for method in methods:
            stats = [anytime(results[(curves.name, method)], m) for m in spent]
            mean = np.array([s[0] for s in stats])
            se = np.array([s[1] for s in stats])
            style: Callable[..., Any] = axis.plot
            line = style(spent, mean, label=method, ls="-" if "parzen" in method else "--")[0]
            axis.fill_between(spent, mean - se, mean + se, alpha=0.12, color=line.get_color())
        finals = [anytime(results[(curves.name, m)], budget)[0] for m in methods]
        top = max(f for f in finals if not math.isnan(f))
        axis.set_ylim(top - 0.04, top + 0.005)  # the first completions start far below
        axis.set_title(curves.name)
        axis.set_xlabel("epochs trained (16 workers)")
        axis.set_ylabel("best final val accuracy (mean ± SE)")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(PNG, dpi=110)
    print(f"wrote {PNG}")
