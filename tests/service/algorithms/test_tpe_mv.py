from __future__ import annotations

import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from parzen.service.algorithms import (
    AlgorithmSettingsError,
    Observation,
    RandomSampler,
    make_sampler,
    validate_algorithm,
)
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from tests.service.algorithms.test_tpe import (
    BOUNDED,
    MIXED,
    SQUARE,
    Vals,
    history,
    min_distance,
    mixed_loss,
    run,
    square,
)


def test_same_history_in_any_order_gives_the_same_proposal() -> None:
    done = history(MIXED, 24, mixed_loss)
    done[3] = Observation(4, "pruned", done[3].vals, done[3].loss)
    done[5] = Observation(6, "failed", done[5].vals, None)
    pending = [Observation(25, "running", done[0].vals, None)]

    first = MultivariateTPESampler(MIXED, seed=3)
    first.observe(done + pending)
    second = MultivariateTPESampler(MIXED, seed=3)
    second.observe(pending)
    for obs in reversed(done):  # each one seen first as running, then finished
        second.observe([Observation(obs.number, "running", obs.vals, None)])
        second.observe([obs])
    proposals = [first.propose(26), first.propose(27)]
    assert proposals == [second.propose(26), second.propose(27)]
    assert proposals[0] != proposals[1]
    assert proposals[0] != MultivariateTPESampler(MIXED, seed=4).propose(26)
    assert list(proposals[0]) == MIXED.active_labels(proposals[0])


def test_startup_phase_counts_finished_trials_only() -> None:
    done = history(SQUARE, 9, square)
    pending = [Observation(k, "running", {"x": 0.5, "y": 0.5}, None) for k in range(10, 30)]
    sampler = MultivariateTPESampler(SQUARE, seed=1, n_startup_trials=10)
    sampler.observe(done + pending)
    assert sampler.propose(30) == RandomSampler(SQUARE, seed=1).propose(30)
    sampler.observe(history(SQUARE, 10, square)[-1:])
    assert sampler.propose(30) != RandomSampler(SQUARE, seed=1).propose(30)


def test_beats_random_on_a_quadratic() -> None:
    seeds = range(6)
    tpe = np.array([run(MultivariateTPESampler(SQUARE, seed=s), square, 40) for s in seeds])
    rnd = np.array([run(RandomSampler(SQUARE, seed=s), square, 40) for s in seeds])
    assert tpe[:, 20:].mean() < 0.5 * rnd[:, 20:].mean()
    assert tpe.min(axis=1).mean() < 0.5 * rnd.min(axis=1).mean()


def valley(vals: Vals) -> float:
    """A narrow diagonal valley: good x and good y only go together."""
    return (vals["x"] - vals["y"]) ** 2 * 10 + (vals["x"] + vals["y"] - 2) ** 2 / 10


def test_models_the_dimensions_jointly() -> None:
    # The good points lie on the diagonal; a joint model proposes on it, a product of
    # marginals (hyperopt's TPE) spreads over the square.
    line = [
        Observation(k, "complete", {"x": t, "y": t}, valley({"x": t, "y": t}))
        for k, t in enumerate(np.linspace(-4.5, 4.5, 10), start=1)
    ]
    noise = history(SQUARE, 40, lambda vals: 50.0 + valley(vals), seed=7)
    noise = [Observation(o.number + 10, o.state, o.vals, o.loss) for o in noise]
    sampler = MultivariateTPESampler(SQUARE, seed=0, gamma=0.2)
    sampler.observe(line + noise)
    proposals = [sampler.propose(number) for number in range(51, 71)]
    off_diagonal = np.median([abs(v["x"] - v["y"]) for v in proposals])
    assert off_diagonal < 1.0, proposals


def test_pending_trials_keep_parallel_proposals_apart() -> None:
    with_liar, without = [], []
    for seed in range(6):
        done = history(SQUARE, 20, square, seed=seed)
        liar = MultivariateTPESampler(SQUARE, seed=seed)
        plain = MultivariateTPESampler(SQUARE, seed=seed, constant_liar=False)
        for sampler, distances in ((liar, with_liar), (plain, without)):
            sampler.observe(done)
            proposals = []
            for number in range(21, 29):
                proposals.append(sampler.propose(number))
                sampler.observe([Observation(number, "running", proposals[-1], None)])
            distances.append(min_distance(proposals))
    assert np.mean(with_liar) > 2 * np.mean(without), (with_liar, without)


def test_failed_trials_are_left_out_of_the_model() -> None:
    done = history(SQUARE, 12, square)
    bad = [Observation(k, "failed", {"x": 1.0, "y": -2.0}, None) for k in range(13, 21)]
    reference = MultivariateTPESampler(SQUARE, seed=2)
    reference.observe(done)
    with_failed = MultivariateTPESampler(SQUARE, seed=2)
    with_failed.observe(done + [Observation(o.number, "running", o.vals, None) for o in bad])
    assert with_failed.propose(21) != reference.propose(21)
    with_failed.observe(bad)
    assert with_failed.propose(21) == reference.propose(21)


def test_conditional_branches_are_all_explored_and_well_formed() -> None:
    sampler = MultivariateTPESampler(MIXED, seed=5, n_startup_trials=5)
    layers = set()
    for number in range(1, 41):
        vals = sampler.propose(number)
        assert list(vals) == MIXED.active_labels(vals)
        MIXED.params_from_vals(vals)
        layers.add(vals["layer"])
        sampler.observe([Observation(number, "complete", vals, mixed_loss(vals))])
    assert layers == {0, 1, 2}


@pytest.mark.parametrize("sign", [1, -1])
def test_values_stay_on_the_grid_at_the_edges(sign: int) -> None:
    def toward_edge(vals: Vals) -> float:
        return sign * sum(
            vals[k] / (b[1] - b[0]) for k, dim in BOUNDED.dimensions.items() if (b := dim.bounds)
        )

    sampler = MultivariateTPESampler(BOUNDED, seed=9, n_startup_trials=3)
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
        assert sum(vals[label] == value for vals in proposals) >= 3


def test_gaussian_and_weighted_choices_are_sampled() -> None:
    from parzen.service.space import parse_space

    space = parse_space(
        {
            "n": {"type": "normal", "mu": 0, "sigma": 1},
            "ln": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.5},
            "p": {"type": "pchoice", "options": ["a", "b"], "probabilities": [0.9, 0.1]},
        }
    )
    sampler = MultivariateTPESampler(space, seed=0, n_startup_trials=2)

    def loss(vals: Vals) -> float:
        return (vals["n"] - 1) ** 2 + vals["p"]

    losses = run(sampler, loss, 30)
    assert all(math.isfinite(x) for x in losses)
    assert min(losses[10:]) < 0.1


def test_settings_and_factory() -> None:
    assert validate_algorithm("tpe-mv", {}) == {
        "n_startup_trials": 10,
        "gamma": 0.1,
        "n_ei_candidates": 24,
        "prior_weight": 1.0,
        "constant_liar": True,
    }
    sampler = make_sampler("tpe-mv", {"n_startup_trials": 3, "constant_liar": False}, SQUARE, 1)
    assert isinstance(sampler, MultivariateTPESampler)
    with pytest.raises(AlgorithmSettingsError, match="constant_liar must be true or false"):
        validate_algorithm("tpe-mv", {"constant_liar": 1})
    with pytest.raises(AlgorithmSettingsError, match="gamma must be a number in"):
        validate_algorithm("tpe-mv", {"gamma": 1.5})


def test_does_not_import_hyperopt() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    code = (
        "import sys\n"
        "from service.space import parse_space\n"
        "from service.algorithms import Observation, make_sampler\n"
        "space = parse_space({'x': {'type': 'uniform', 'low': 0, 'high': 1}})\n"
        "s = make_sampler('tpe-mv', {'n_startup_trials': 1}, space, 0)\n"
        "s.observe([Observation(1, 'complete', {'x': 0.5}, 1.0)])\n"
        "s.propose(2)\n"
        "assert 'hyperopt' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_categorical_kernels_are_smoothed_as_optuna_smooths_them() -> None:
    from parzen.service.algorithms.tpe_mv import _CategoricalPart, _Choice

    kernel = _Choice(MIXED.dimensions["optimizer"], np.array([0.5, 0.5]))
    part = _CategoricalPart(kernel, np.array([0.0, 0.0, 1.0]), prior_weight=1.0)
    # Every kernel adds prior_weight / (n + 1) = 1/4 to each option; the last row is the prior.
    expected = np.array([[1.25, 0.25], [1.25, 0.25], [0.25, 1.25], [0.25, 0.25]])
    np.testing.assert_allclose(part.table, expected / expected.sum(axis=1, keepdims=True))


def test_grid_kernels_keep_half_a_cell_while_continuous_ones_shrink() -> None:
    from parzen.service.algorithms.tpe_mv import _kernel, _NumericPart
    from parzen.service.space import parse_space

    space = parse_space(
        {
            "units": {"type": "int", "low": 0, "high": 5},
            "rate": {"type": "quniform", "low": 0.0, "high": 0.5, "q": 0.1},
            "x": {"type": "uniform", "low": -0.5, "high": 5.5},
        }
    )
    # 120 observations over a 6-value grid: the neighbour gaps are 0, and Optuna's clip
    # alone would let every kernel shrink to a hundredth of the range.
    grid = np.repeat(np.arange(6.0), 20)
    units = _NumericPart(_kernel(space.dimensions["units"]), grid)
    rate = _NumericPart(_kernel(space.dimensions["rate"]), grid / 10)
    x = _NumericPart(_kernel(space.dimensions["x"]), grid)
    assert units.sigma.min() == pytest.approx(0.5)
    assert rate.sigma.min() == pytest.approx(0.05)
    assert x.sigma.min() == pytest.approx(6 / 100)

    # A kernel at 2 gives each neighbouring value about 16% of its mass, not ~0.
    assert units.sigma[45] == pytest.approx(0.5) and units.mu[45] == 2
    mass = np.exp(units.log_pdf(np.array([1.0, 2.0, 3.0])))[:, 45]
    np.testing.assert_allclose(mass, [0.157, 0.683, 0.157], atol=0.002)
