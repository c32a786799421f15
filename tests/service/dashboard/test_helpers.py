"""Downsampling, the flat parameter view and parameter importance (no database)."""

from __future__ import annotations

import random

from parzen.service.dashboard.downsample import evenly_spaced, minmax_decimate, records
from parzen.service.dashboard.importance import forest_importance
from parzen.service.dashboard.params import ParamView
from parzen.service.storage.dashboard import TrialVals
from tests.service.factories import MIXED_SPACE


def test_decimation_with_records_keeps_extremes_and_the_exact_best_so_far() -> None:
    rng = random.Random(0)
    values = [rng.gauss(0, 1) for _ in range(10_000)]
    points = list(enumerate(values))
    kept = minmax_decimate(points, lambda p: p[1], 500)
    assert len(kept) <= 1000 and kept == sorted(kept)
    assert min(values) in [v for _, v in kept] and max(values) in [v for _, v in kept]

    def best_so_far(pts: list[tuple[int, float]]) -> dict[int, float]:
        best, out = float("inf"), {}
        for number, value in pts:
            best = min(best, value)
            out[number] = best
        return out

    improving = records(points, lambda p: p[1])
    assert [v for _, v in improving] == sorted({v for _, v in improving}, reverse=True)
    drawn = sorted(set(kept) | set(improving))
    full = best_so_far(points)
    assert all(full[n] == b for n, b in best_so_far(drawn).items())
    assert minmax_decimate(points[:10], lambda p: p[1], 500) == points[:10]


def test_evenly_spaced_keeps_the_first() -> None:
    assert evenly_spaced(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert evenly_spaced([1, 2], 5) == [1, 2]
    assert evenly_spaced([1, 2], 0) == []


def test_param_view_names_options_and_leaves_inactive_out() -> None:
    view = ParamView.of(MIXED_SPACE)
    vals = {"learning_rate": 0.01, "units": 32, "activation": 2, "layer": 1}
    vals |= {"layer.dense.width": 100, "dropout": 0.1}
    shown = view.display(vals)
    assert shown["activation"] == "selu" and shown["layer"] == "dense"
    assert shown["layer.dense.width"] == 100 and "layer.conv.filters" not in shown
    conv = vals | {"layer": 0, "layer.conv.filters": 8, "layer.conv.kernel_size": 1}
    table = view.table([TrialVals(1, 0.5, vals), TrialVals(2, 0.7, conv)])
    columns = {c.label: c for c in table.columns}
    assert columns["learning_rate"].log and columns["units"].log and columns["units"].kind == "int"
    assert columns["layer.conv.kernel_size"].values == [None, "5"]
    assert columns["layer"].options == ["conv", "dense"]
    assert table.numbers == [1, 2] and table.values == [0.5, 0.7]


def test_forest_importance_finds_the_parameter_that_matters() -> None:
    view = ParamView.of(MIXED_SPACE)
    rng = random.Random(1)
    trials = []
    for number in range(1, 301):
        lr = 10 ** rng.uniform(-4, -1)
        vals = {"learning_rate": lr, "units": rng.randint(16, 256), "activation": 0, "layer": 1}
        vals |= {"layer.dense.width": rng.randint(16, 512), "dropout": rng.uniform(0, 0.5)}
        trials.append(TrialVals(number, (lr * 100 - 3) ** 2, vals))
    result = forest_importance(view.table(trials))
    assert result.trials == 300 and result.scores[0][0] == "learning_rate"
    assert abs(sum(score for _, score in result.scores) - 1) < 1e-6
    assert forest_importance(view.table(trials[:1])).scores == []


OPTIMIZER_SPACE = {
    "optimizer": {
        "type": "choice",
        "options": [
            {"name": "adam", "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
            {"name": "sgd", "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
        ],
    },
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
}


def test_a_branch_parameter_of_every_option_is_one_feature_with_its_active_count() -> None:
    """The learning rate that both optimizers define is ranked once, first (it is what
    matters), not split in two halves that each look half as important."""
    import time

    view = ParamView.of(OPTIMIZER_SPACE)
    rng = random.Random(2)
    trials = []
    for number in range(1, 401):
        option = rng.randint(0, 1)
        lr = 10 ** rng.uniform(-4, -1)
        branch = ("adam", "sgd")[option]
        vals = {"optimizer": option, f"optimizer.{branch}.learning_rate": lr}
        vals |= {"dropout": rng.uniform(0, 0.5)}
        trials.append(TrialVals(number, (lr * 100 - 3) ** 2, vals))
    started = time.perf_counter()
    result = forest_importance(view.table(trials))
    assert time.perf_counter() - started < 5  # generous: the machine is shared
    labels = [label for label, _ in result.scores]
    assert labels[0] == "optimizer.*.learning_rate" and len(labels) == 3
    assert dict(result.scores)["optimizer.*.learning_rate"] > 0.5
    assert result.active == {"optimizer.*.learning_rate": 400, "optimizer": 400, "dropout": 400}


def test_a_parameter_of_one_branch_keeps_its_label_and_counts_its_trials() -> None:
    view = ParamView.of(MIXED_SPACE)
    rng = random.Random(3)
    trials = []
    for number in range(1, 201):
        layer = number % 2
        vals = {"learning_rate": 0.01, "units": 32, "activation": 0, "layer": layer}
        vals |= {"dropout": rng.uniform(0, 0.5)}
        if layer:
            vals["layer.dense.width"] = rng.randint(16, 512)
        else:
            vals |= {"layer.conv.filters": rng.randint(8, 64), "layer.conv.kernel_size": 0}
        trials.append(TrialVals(number, vals["dropout"], vals))
    result = forest_importance(view.table(trials))
    assert result.active["layer.dense.width"] == 100 and result.active["layer.conv.filters"] == 100
    assert result.scores[0][0] == "dropout"
