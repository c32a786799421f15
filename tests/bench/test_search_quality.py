"""The search-quality benchmark ranks honestly: own seeds per method, paired head to head."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.objectives import get_objective
from bench.search_quality import (
    Method,
    RunResult,
    RunSpec,
    SamplerOptimizer,
    best_other,
    main,
    method_seed,
    summarize,
)


def test_each_method_draws_its_own_startup_points() -> None:
    """Issue 18: tpe-mv, tpe and random shared their first proposals (one seed, one random
    startup sampler), which correlated their ranks. Each spec now gets a seed of its own."""
    space = get_objective("branin").space
    specs = ["parzen-tpe-mv", "parzen-tpe", "random", "parzen-tpe-mv+ties"]
    seeds = {spec: method_seed(RunSpec("branin", spec, 1, 3, 10)) for spec in specs}
    assert len(set(seeds.values())) == len(specs)
    assert seeds["random"] == method_seed(RunSpec("branin", "random", 4, 3, 200))  # stable
    firsts = {
        spec: SamplerOptimizer(Method(spec), space, seeds[spec]).ask()[1]["x1"] for spec in specs
    }
    assert len(set(firsts.values())) == len(specs)


def _result(method: str, seed: int, regrets: list[float], workers: int = 1) -> RunResult:
    return RunResult(RunSpec("branin", method, workers, seed, len(regrets)), tuple(regrets), 0.0)


def test_head_to_head_is_the_mean_sign_paired_over_seeds_with_its_standard_error() -> None:
    """Budgets read off one run are averaged before the runs are: a run counts once."""
    results = [
        # seed 0: a better at both budgets (-1); seed 1: a better at 2, tied at 4 (-0.5);
        # seed 2: a worse at both (+1).
        _result("a", 0, [3.0, 2.0, 1.0, 1.0]),
        _result("b", 0, [3.0, 3.0, 2.0, 2.0]),
        _result("a", 1, [1.0, 1.0, 1.0, 1.0]),
        _result("b", 1, [2.0, 2.0, 1.0, 1.0]),
        _result("a", 2, [5.0, 5.0, 5.0, 5.0]),
        _result("b", 2, [4.0, 4.0, 4.0, 4.0]),
    ]
    summary = summarize(results, [2, 4], ["a", "b"])
    x, error, n = summary.head_to_head("a", "b")
    per_run = [-1.0, -0.5, 1.0]
    assert n == 3
    assert x == pytest.approx(np.mean(per_run))
    assert error == pytest.approx(np.std(per_run, ddof=1) / math.sqrt(3))
    assert summary.head_to_head("b", "a")[0] == pytest.approx(-x)
    assert summary.head_to_head("a", "b", workers=4)[2] == 0


def test_the_best_other_method_is_the_one_parzen_fares_worst_against() -> None:
    results = []
    for seed in range(3):
        results += [
            _result("parzen-tpe-mv", seed, [2.0]),
            _result("optuna", seed, [1.0 + seed]),  # ahead, tied, behind: 0
            _result("random", seed, [9.0]),  # always behind: -1
        ]
    summary = summarize(results, [1], ["parzen-tpe-mv", "optuna", "random"])
    assert best_other(summary, "parzen-tpe-mv") == "optuna"


def test_the_last_line_is_the_head_to_head_against_the_best_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = "--in-process --processes 1 --objectives branin --workers 1 --budgets 12 --seeds 2"
    assert main([*argv.split(), "--methods", "parzen-tpe-mv", "random"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    name, value = last.split(": ")
    assert name == "parzen_head_to_head_vs_best_other"
    mean, se = value.removesuffix(")").split(" (se ")
    assert -1.0 <= float(mean) <= 1.0 and float(se) >= 0.0


def test_objective_groups_and_unknown_variants_on_the_command_line() -> None:
    from bench.search_quality import parse_args

    args = parse_args(["--objectives", "broad,branin"])
    assert "keras_like" in args.objectives and args.objectives[-1] == "branin"
    with pytest.raises(SystemExit):
        parse_args(["--methods", "parzen-tpe-mv+nosuch"])
