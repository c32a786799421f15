"""The pruning benchmark's pieces: the curve recorder, the anytime comparison with Optuna,
and the real-Keras run's study and table."""

from __future__ import annotations

import math

import pytest

from bench.pruning import Run
from bench.pruning_curves import TASKS, configs, record_task, spread
from bench.pruning_keras import MAX_EPOCHS, Outcome, study_body, table_rows
from bench.pruning_report import against_optuna, epochs_to_reach


def test_spread_covers_the_grid_from_its_first_to_its_last_configuration() -> None:
    """Timing `--limit` configurations must include the largest model, not only the first
    few (the smallest): else the recording's time is underestimated."""
    grid = configs(TASKS["mlp-digits"][3])
    picked = spread(grid, 4)
    assert len(picked) == 4 and len(set(picked)) == 4
    assert picked[0] == grid[0] and picked[-1] == grid[-1]
    assert spread(grid, None) == grid


def test_the_recorder_keeps_one_curve_per_configuration_and_epoch() -> None:
    """Two configurations x two epochs of real Keras: what the replay reads back."""
    task = record_task("mlp-breast-cancer", limit=2, epochs=2)
    grid = task["grid"]
    assert task["epochs"] == 2 and list(grid) == list(TASKS["mlp-breast-cancer"][3])
    assert [tuple(row["index"]) for row in task["rows"]] == spread(configs(grid), 2)
    for row in task["rows"]:
        assert len(row["val"]) == 2
        assert all(0.0 <= v <= 1.0 for v in [*row["val"], row["test"]])


def _run(*events: tuple[int, float]) -> Run:
    return Run(curve=[(spent, val, val) for spent, val in events])


def test_parzen_is_compared_with_the_best_optuna_method_at_each_mark() -> None:
    """Marks every 9 epochs from 27 to 54: 27, 36, 45, 54. Parzen has nothing complete at
    27 (a shortfall), trails at 36, is ahead from 45 on: the best Optuna method changes
    along the way (the second one leads at 54)."""
    parzen = [_run((30, 0.90), (40, 0.97)), _run((30, 0.90), (40, 0.97))]
    first = [_run((20, 0.92)), _run((20, 0.92))]
    second = [_run((20, 0.80), (50, 0.96)), _run((20, 0.80), (50, 0.96))]
    compared, ahead, level, worst, at = against_optuna(parzen, [first, second], 54)
    assert (compared, ahead, level) == (4, 2, 2)
    assert (worst, at) == (1.0, 27)


def test_epochs_to_reach_is_the_first_mark_where_the_seeds_mean_gets_there() -> None:
    runs = [_run((30, 0.95)), _run((30, 0.93), (50, 0.99))]
    assert epochs_to_reach(runs, 0.935, 81) == 36
    assert epochs_to_reach(runs, 0.965, 81) == 54
    assert math.isinf(epochs_to_reach(runs, 0.999, 81))


@pytest.mark.parametrize("method", ["tpe", "tpe + asha", "tpe + hyperband"])
def test_the_keras_runs_study_spends_its_budget_in_epochs_without_early_stopping(
    method: str,
) -> None:
    body = study_body("convnet-digits", method, 1, 90)
    assert body["budget"]["max_epochs_total"] == 90
    assert body["objective"]["patience"] == body["objective"]["max_epochs"] == MAX_EPOCHS
    assert body["name"] == f"convnet-digits-{method.replace(' + ', '-')}-1"
    assert body.get("pruner", {"type": "none"})["type"] == method.split(" + ")[-1].replace(
        "tpe", "none"
    )


def test_the_keras_table_gives_mean_and_standard_error_over_seeds() -> None:
    outcomes = [
        Outcome("t", "tpe", 0, 100, 11, 11, 0.96, 0.95, 30.0),
        Outcome("t", "tpe", 1, 110, 12, 12, 0.98, 0.93, 40.0),
        Outcome("t", "tpe + asha", 0, 95, 40, 5, 0.97, 0.94, 50.0),
    ]
    rows = table_rows(outcomes)
    assert rows[0] == [
        "t",
        "tpe",
        "2",
        "105",
        "12",
        "12",
        "0.9700 ± 0.0100",
        "0.9400 ± 0.0100",
        "35",
    ]
    assert rows[1][1:4] == ["tpe + asha", "1", "95"] and rows[1][6] == "0.9700"
