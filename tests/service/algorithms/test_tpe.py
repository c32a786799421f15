from __future__ import annotations

import itertools
import logging
import math
import pathlib
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest
from hyperopt.tpe import DEFAULT_LF

from parzen.service.algorithms import (
    AlgorithmSettingsError,
    Observation,
    RandomSampler,
    Sampler,
    TPESampler,
    make_sampler,
    validate_algorithm,
)
from parzen.service.space import SearchSpace, parse_space

Vals = Mapping[str, float | int]

SQUARE = parse_space(
    {"x": {"type": "uniform", "low": -5, "high": 5}, "y": {"type": "uniform", "low": -5, "high": 5}}
)
MIXED = parse_space(
    {
        "lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
        "units": {"type": "int", "low": 16, "high": 512, "step": 16},
        "optimizer": {
            "type": "choice",
            "options": [
                {"name": "adam"},
                {"name": "sgd", "momentum": {"type": "uniform", "low": 0, "high": 0.99}},
            ],
        },
        "layer": {
            "type": "choice",
            "options": [
                {
                    "kind": "conv",
                    "filters": {"type": "int", "low": 8, "high": 64, "log": True},
                    "width": {"type": "int", "low": 1, "high": 8},
                },
                {"kind": "dense", "width": {"type": "int", "low": 1, "high": 8}},
                "none",
            ],
        },
    }
)


def square(vals: Vals) -> float:
    return (vals["x"] - 1) ** 2 + (vals["y"] + 2) ** 2


def mixed_loss(vals: Vals) -> float:
    return (math.log10(vals["lr"]) + 3) ** 2 + abs(vals["units"] - 128) / 128


def history(
    space: SearchSpace, n: int, loss: Callable[[Vals], float], seed: int = 0
) -> list[Observation]:
    sampler = RandomSampler(space, seed=seed)
    return [
        Observation(k, "complete", vals, loss(vals))
        for k in range(1, n + 1)
        for vals in [sampler.propose(k)]
    ]


def run(sampler: Sampler, loss: Callable[[Vals], float], n: int) -> list[float]:
    losses = []
    for number in range(1, n + 1):
        vals = sampler.propose(number)
        losses.append(loss(vals))
        sampler.observe([Observation(number, "complete", vals, losses[-1])])
    return losses


def test_same_history_in_any_order_gives_the_same_proposal() -> None:
    done = history(MIXED, 24, mixed_loss)
    done[3] = Observation(4, "pruned", done[3].vals, done[3].loss)
    done[5] = Observation(6, "failed", done[5].vals, None)
    pending = [
        Observation(25, "running", done[0].vals, None),
        Observation(26, "queued", RandomSampler(MIXED, seed=5).propose(26), None),
    ]

    first = TPESampler(MIXED, seed=3)
    first.observe(done + pending)
    second = TPESampler(MIXED, seed=3)
    second.observe(reversed(pending))
    for obs in reversed(done):  # each one seen first as running, then finished
        second.observe([Observation(obs.number, "running", obs.vals, None)])
        second.observe([obs])
    proposals = [first.propose(27), first.propose(28)]
    assert proposals == [second.propose(27), second.propose(28)]
    assert proposals[0] != proposals[1]
    assert proposals[0] != TPESampler(MIXED, seed=4).propose(27)


def test_startup_phase_counts_finished_trials_only() -> None:
    done = history(SQUARE, 9, square)
    pending = [Observation(k, "running", {"x": 0.5, "y": 0.5}, None) for k in range(10, 40)]
    failed = [Observation(k, "failed", {"x": 0.1, "y": 0.1}, None) for k in range(40, 50)]
    sampler = TPESampler(SQUARE, seed=11, n_startup_trials=10)
    sampler.observe(done + pending + failed)
    random = RandomSampler(SQUARE, seed=11)
    assert sampler.propose(50) == random.propose(50)

    tenth = history(SQUARE, 10, square)[-1]
    sampler.observe([Observation(tenth.number, "pruned", tenth.vals, tenth.loss)])
    assert sampler.propose(50) != random.propose(50)


def test_model_phase_starts_right_after_the_startup_trials() -> None:
    corners = [(1, -2), (-4, 4), (4, 4), (-4, -4), (4, -4)]
    done = [
        Observation(k, "complete", {"x": float(x), "y": float(y)}, square({"x": x, "y": y}))
        for k, (x, y) in enumerate(corners, start=1)
    ]
    tpe, rnd = TPESampler(SQUARE, seed=0, n_startup_trials=5), RandomSampler(SQUARE, seed=0)
    tpe.observe(done)

    def farthest_from_best(sampler: Sampler) -> float:
        proposals = [sampler.propose(number) for number in range(6, 26)]
        return max(math.hypot(v["x"] - 1, v["y"] + 2) / 10 for v in proposals)

    # hyperopt's own startup rule (20 trials by default) would still sample at random here.
    assert farthest_from_best(tpe) < 0.3 < farthest_from_best(rnd)


def min_distance(proposals: Sequence[Vals]) -> float:
    points = np.array([[vals["x"], vals["y"]] for vals in proposals]) / 10  # box side 10
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(points, 2))


def test_pending_trials_keep_parallel_proposals_apart() -> None:
    with_liar, without = [], []
    for seed in range(6):
        done = history(SQUARE, 10, square, seed=seed)
        done += [
            Observation(k, "complete", vals, square(vals))
            for k in range(11, 21)
            for vals in [{"x": 1 + 0.3 * math.cos(k), "y": -2 + 0.3 * math.sin(k)}]
        ]
        liar, plain = TPESampler(SQUARE, seed=seed), TPESampler(SQUARE, seed=seed)
        liar.observe(done)
        plain.observe(done)
        proposals = []
        for number in range(21, 29):
            proposals.append(liar.propose(number))
            liar.observe([Observation(number, "running", proposals[-1], None)])
        assert len({tuple(vals.values()) for vals in proposals}) == 8
        with_liar.append(min_distance(proposals))
        without.append(min_distance([plain.propose(number) for number in range(21, 29)]))
    assert np.mean(with_liar) > 4 * np.mean(without), (with_liar, without)


def test_without_the_constant_liar_pending_trials_are_left_out() -> None:
    done = history(SQUARE, 12, square)
    pending = [Observation(k, "running", {"x": 1.0, "y": -2.0}, None) for k in range(13, 21)]
    reference = TPESampler(SQUARE, seed=2, constant_liar=False)
    reference.observe(done)
    plain = TPESampler(SQUARE, seed=2, constant_liar=False)
    plain.observe(done + pending)
    liar = TPESampler(SQUARE, seed=2)
    liar.observe(done + pending)
    assert plain.propose(21) == reference.propose(21) != liar.propose(21)


@pytest.mark.parametrize(
    ("finished", "pending", "expected"), [(10, 0, 1), (100, 0, 10), (200, 16, 20), (400, 0, 25)]
)
def test_the_good_group_is_a_fraction_of_the_finished_trials(
    finished: int, pending: int, expected: int
) -> None:
    # hyperopt alone would take ceil(0.25 * sqrt(n)) of all n trials, pending ones included.
    sampler = TPESampler(SQUARE, seed=0, gamma=0.1)
    sampler.observe(history(SQUARE, finished, square))
    sampler.observe(
        Observation(k, "running", {"x": 0.0, "y": 0.0}, None)
        for k in range(finished + 1, finished + pending + 1)
    )
    n = finished + pending
    gamma = sampler._options()["gamma"]
    assert min(math.ceil(gamma * math.sqrt(n)), DEFAULT_LF) == expected


def test_tpe_beats_random_on_a_quadratic() -> None:
    tpe = np.array([run(TPESampler(SQUARE, seed=seed), square, 40) for seed in range(8)])
    rnd = np.array([run(RandomSampler(SQUARE, seed=seed), square, 40) for seed in range(8)])
    assert tpe[:, 20:].mean() < 0.6 * rnd[:, 20:].mean()
    assert tpe.min(axis=1).mean() < rnd.min(axis=1).mean()


def test_failed_trials_are_left_out_of_the_model() -> None:
    done = history(SQUARE, 12, square)
    bad = [Observation(k, "failed", {"x": 1.0, "y": -2.0}, None) for k in range(13, 21)]
    reference = TPESampler(SQUARE, seed=2)
    reference.observe(done)
    with_failed = TPESampler(SQUARE, seed=2)
    with_failed.observe(done + [Observation(o.number, "running", o.vals, None) for o in bad])
    assert with_failed.propose(21) != reference.propose(21)  # pending ones do count
    with_failed.observe(bad)
    assert with_failed.propose(21) == reference.propose(21)


def test_conditional_proposals_hold_active_labels_only() -> None:
    sampler = TPESampler(MIXED, seed=5, n_startup_trials=5)
    branches = set()
    for number in range(1, 31):
        vals = sampler.propose(number)
        assert list(vals) == MIXED.active_labels(vals)
        MIXED.params_from_vals(vals)
        branches.add((vals["optimizer"], vals["layer"]))
        sampler.observe([Observation(number, "complete", vals, mixed_loss(vals))])
    assert {layer for _, layer in branches} == {0, 1, 2}


BOUNDED = parse_space(
    {
        "i": {"type": "int", "low": -3, "high": 3},
        "istep": {"type": "int", "low": 10, "high": 100, "step": 30},
        "ilog": {"type": "int", "low": 1, "high": 1000, "log": True},
        "lu": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
        "qu": {"type": "quniform", "low": 0.15, "high": 0.7, "q": 0.1},
        "qlu": {"type": "qloguniform", "low": 1, "high": 100, "q": 5},
    }
)


@pytest.mark.parametrize("sign", [1, -1])
def test_values_stay_on_the_grid_at_the_edges(sign: int) -> None:
    def toward_edge(vals: Vals) -> float:
        return sign * sum(
            vals[k] / (b[1] - b[0]) for k, dim in BOUNDED.dimensions.items() if (b := dim.bounds)
        )

    sampler = TPESampler(BOUNDED, seed=9, n_startup_trials=3)
    proposals = []
    for number in range(1, 41):
        vals = sampler.propose(number)
        proposals.append(vals)
        sampler.observe([Observation(number, "complete", vals, toward_edge(vals))])
        assert all(type(vals[k]) is int for k in ("i", "istep", "ilog"))
        assert all(type(vals[k]) is float for k in ("lu", "qu", "qlu"))
        assert -3 <= vals["i"] <= 3 and vals["istep"] in (10, 40, 70, 100)
        assert 1 <= vals["ilog"] <= 1000 and 1e-4 <= vals["lu"] <= 1e-2
        assert vals["qu"] in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        assert 5 <= vals["qlu"] <= 100 and vals["qlu"] % 5 == 0
    edge = {"i": -3, "istep": 10, "qu": 0.2} if sign == 1 else {"i": 3, "istep": 100, "qu": 0.7}
    for label, value in edge.items():
        assert sum(vals[label] == value for vals in proposals) >= 3  # the edges were visited


def test_space_without_dimensions_proposes_nothing() -> None:
    sampler = TPESampler(parse_space({"epochs": 3}), seed=0, n_startup_trials=0)
    sampler.observe([Observation(1, "complete", {}, 0.5)])
    assert sampler.propose(2) == {}


def test_hyperopt_does_not_log_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sampler = TPESampler(SQUARE, seed=0, n_startup_trials=0)
    sampler.observe(history(SQUARE, 3, square))
    sampler.propose(4)
    assert not [r for r in caplog.records if r.name.startswith("hyperopt")]


def test_settings_are_validated_with_defaults() -> None:
    assert validate_algorithm("tpe", {}) == {
        "n_startup_trials": 10,
        "gamma": 0.1,
        "n_ei_candidates": 24,
        "prior_weight": 1.0,
        "constant_liar": True,
    }
    assert (
        validate_algorithm("tpe", {"gamma": 0.5, "n_startup_trials": 3.0})["n_startup_trials"] == 3
    )
    assert validate_algorithm("random", {}) == {}


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        (
            "tpee",
            {},
            "unknown algorithm 'tpee'; expected one of: random, tpe, tpe-mv (did you mean 'tpe'?)",
        ),
        ("tpe", {"gama": 0.3}, "unknown setting 'gama' for tpe (did you mean 'gamma'?)"),
        ("tpe", {"gamma": 1}, "gamma must be a number in (0, 1) (got 1)"),
        ("tpe", {"n_startup_trials": -1}, "n_startup_trials must be an integer >= 0 (got -1)"),
        ("tpe", {"n_ei_candidates": 0}, "n_ei_candidates must be an integer >= 1"),
        ("tpe", {"n_ei_candidates": True}, "n_ei_candidates must be an integer >= 1 (got True)"),
        ("tpe", {"n_ei_candidates": 2.5}, "n_ei_candidates must be an integer >= 1 (got 2.5)"),
        ("tpe", {"prior_weight": 0}, "prior_weight must be a number > 0"),
        ("tpe", {"constant_liar": "yes"}, "constant_liar must be true or false (got 'yes')"),
        ("tpe", {"prior_weight": math.inf}, "prior_weight must be a number > 0"),
        ("random", {"seed": 1}, "unknown setting 'seed': random takes no settings"),
    ],
)
def test_bad_settings_say_what_to_fix(name: str, settings: dict[str, object], message: str) -> None:
    with pytest.raises(AlgorithmSettingsError) as caught:
        validate_algorithm(name, settings)
    assert message in str(caught.value)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(AlgorithmSettingsError, match=r"gamma must .*; prior_weight must"):
        make_sampler("tpe", {"gamma": 0, "prior_weight": -1}, SQUARE, seed=0)


def test_make_sampler_applies_the_settings() -> None:
    done = history(SQUARE, 5, square)
    random = make_sampler("random", {}, SQUARE, seed=4)
    patient = make_sampler("tpe", {"n_startup_trials": 6}, SQUARE, seed=4)
    eager = make_sampler("tpe", {"n_startup_trials": 5}, SQUARE, seed=4)
    assert isinstance(random, RandomSampler) and isinstance(eager, TPESampler)
    for sampler in (patient, eager):
        sampler.observe(done)
    assert patient.propose(6) == random.propose(6) != eager.propose(6)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_sampler("tpe", {}, SQUARE, seed=-1)


def test_hyperopt_is_imported_by_tpe_only() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    importers = [
        path.relative_to(root).as_posix()
        for folder in ("service", "worker", "cli")
        for path in (root / folder).rglob("*.py")
        if "import hyperopt" in (text := path.read_text()) or "from hyperopt" in text
    ]
    assert importers == ["service/algorithms/tpe.py"]
    code = (
        "import sys, service.algorithms as a; a.validate_algorithm('tpe', {}); "
        "assert 'hyperopt' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
