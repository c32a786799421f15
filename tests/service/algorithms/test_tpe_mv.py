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
from parzen.service.algorithms.tpe_kernels import _NumericPart
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.algorithms.tpe_settings import TPESettings
from parzen.service.space import parse_space
from tests.service.algorithms.cases import (
    MIXED,
    SQUARE,
    Vals,
    history,
    run,
)


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
    sampler = MultivariateTPESampler(SQUARE, seed=0, settings=TPESettings(gamma=0.2))
    sampler.observe(line + noise)
    proposals = [sampler.propose(number) for number in range(51, 71)]
    off_diagonal = np.median([abs(v["x"] - v["y"]) for v in proposals])
    assert off_diagonal < 1.0, proposals


def test_gaussian_and_weighted_choices_are_sampled() -> None:
    from parzen.service.space import parse_space

    space = parse_space(
        {
            "n": {"type": "normal", "mu": 0, "sigma": 1},
            "ln": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.5},
            "p": {"type": "pchoice", "options": ["a", "b"], "probabilities": [0.9, 0.1]},
        }
    )
    sampler = MultivariateTPESampler(space, seed=0, settings=TPESettings(n_startup_trials=2))

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


def _bad_and_good_sigmas(observations: list[Observation]) -> tuple[np.ndarray, np.ndarray]:
    """The `units` kernels' widths in the bad density (every trial after the 13th) and the
    good one (the first 13), oldest trial first."""
    from parzen.service.space import parse_space

    space = parse_space({"units": {"type": "int", "low": 0, "high": 5}})
    sampler = MultivariateTPESampler(space, seed=0)
    sampler.observe(observations)
    n = len(observations)
    good = np.arange(n) < 13  # the complete trials, 13 on 6 values
    kernels = [sampler._kernels["units"]]
    x = sampler._x[:n, :1]
    bad = sampler._mixture(kernels, x, ~good, below=False)
    best = sampler._mixture(kernels, x, good, below=True)
    return bad.parts[0].sigma[:-1], best.parts[0].sigma[:-1]  # type: ignore[union-attr]


def test_pruned_trials_count_against_their_own_grid_values_only() -> None:
    """Fails when the bad density spreads pruned trials over the neighbouring grid values:
    under ASHA two trials in three stop at each rung, near the good ones, and their half-cell
    kernels bury the values between them (bench/pruning.py: Parzen's TPE + ASHA behind
    Optuna's successive halving on every task)."""
    observations = [Observation(k, "complete", {"units": k % 6}, 0.0) for k in range(1, 14)]
    observations += [Observation(k, "complete", {"units": k % 6}, 1.0) for k in range(14, 26)]
    observations += [Observation(k, "pruned", {"units": 2 + k % 2}, 5.0) for k in range(26, 50)]
    observations += [Observation(k, "running", {"units": 1}, None) for k in range(50, 54)]
    bad, good = _bad_and_good_sigmas(observations)
    kind = np.array([o.state for o in observations[13:]])
    # Among tied grid values a kernel without the floor shrinks to Optuna's clip: the
    # range's width over (bad trials + 2), 6 / 42.
    assert bad[kind == "complete"].min() == pytest.approx(0.5)  # complete ones keep it
    assert bad[kind == "pruned"].min() == pytest.approx(6 / 42)
    assert bad[kind == "running"].min() == pytest.approx(6 / 42)  # the study prunes
    assert good.min() == pytest.approx(0.5)


def test_without_pruned_trials_running_ones_keep_half_a_cell() -> None:
    """Fails when the kernels of running trials shrink in a study that prunes nothing: the
    half-cell floor is what bench/search_quality.py measured best without pruning."""
    observations = [Observation(k, "complete", {"units": k % 6}, 0.0) for k in range(1, 14)]
    observations += [Observation(k, "complete", {"units": k % 6}, 1.0) for k in range(14, 26)]
    observations += [Observation(k, "running", {"units": 1}, None) for k in range(26, 50)]
    bad, _ = _bad_and_good_sigmas(observations)
    assert bad.min() == pytest.approx(0.5)


def test_proposals_equal_whether_observed_in_pieces_or_at_once() -> None:
    """The kept orders and masses give the same proposals and kernels however the history
    arrives: in pieces with proposals between them, numbers out of order, trials seen
    running and then finished, and one trial re-observed with other values, against a
    sampler fed the final state at once."""
    rng = np.random.default_rng(1)
    random = RandomSampler(MIXED, seed=3)
    numbers = rng.permutation(900) + 1
    final = {
        int(k): Observation(int(k), "complete", random.propose(int(k)), float(rng.normal()))
        for k in numbers
    }
    pieces = MultivariateTPESampler(MIXED, seed=5)
    start = 0
    while start < len(numbers):
        size = int(rng.choice([1, 3, 40, 200]))
        chunk = [final[int(k)] for k in numbers[start : start + size]]
        pieces.observe([Observation(o.number, "running", o.vals, None) for o in chunk])
        pieces.observe(chunk)
        start += size
        pieces.propose(1000 + start)  # the orders are kept from here on
    assert_same_as_at_once(pieces, list(final.values()))
    moved = final[int(numbers[10])]
    final[moved.number] = Observation(moved.number, "complete", final[1].vals, moved.loss)
    pieces.observe([final[moved.number]])
    assert_same_as_at_once(pieces, list(final.values()))


def assert_same_as_at_once(sampler: MultivariateTPESampler, history: list[Observation]) -> None:
    """`sampler` (fed `history`, rows in the same order) proposes what a fresh one fed it at
    once proposes, and its bad density has the same kernels: a proposal rarely turns on one."""
    at_once = MultivariateTPESampler(MIXED, seed=5)
    at_once.observe(history)
    for number in range(901, 904):
        assert sampler.propose(number) == at_once.propose(number)
    for label in ("lr", "units"):
        parts = [
            s._mixture(
                [s._kernels[label]],
                s._x[: len(history), [s._column[label]]],
                np.ones(len(history), bool),
                below=False,
            ).parts[0]
            for s in (sampler, at_once)
        ]
        assert isinstance(parts[0], _NumericPart) and isinstance(parts[1], _NumericPart)
        np.testing.assert_array_equal(parts[0].sigma, parts[1].sigma)
        np.testing.assert_array_equal(parts[0]._log_mass, parts[1]._log_mass)


GRID = parse_space(
    {"a": {"type": "int", "low": 0, "high": 9}, "b": {"type": "choice", "options": list("pqrst")}}
)


def _grid_history() -> list[Observation]:
    """30 trials trained to the end on a 10 x 5 grid, the best ones around a = 4, b = 1."""
    rng = np.random.default_rng(0)
    observations = []
    for number in range(1, 31):
        vals = {"a": int(rng.integers(10)), "b": int(rng.integers(5))}
        observations.append(Observation(number, "complete", vals, abs(vals["a"] - 4) + vals["b"]))
    return observations


def _proposals(sampler: MultivariateTPESampler, numbers: range) -> list[dict[str, float | int]]:
    return [sampler.propose(number) for number in numbers]


def test_a_pruning_study_does_not_propose_a_configuration_trained_to_the_end() -> None:
    """Fails when a study with a pruner proposes again a grid configuration already trained
    to the end while its candidates hold a new one: bench/pruning.py's convnet spent 131
    trials of one seed on such repeats and never found its best configuration."""
    history = _grid_history()
    done = [dict(o.vals) for o in history]
    plain = MultivariateTPESampler(GRID, seed=1)
    pruning = MultivariateTPESampler(GRID, seed=1, prunes=True)
    plain.observe(history)
    pruning.observe(history)
    assert any(vals in done for vals in _proposals(plain, range(31, 61)))  # TPE alone repeats
    assert not any(vals in done for vals in _proposals(pruning, range(31, 61)))


def test_a_study_without_a_pruner_gets_the_plain_proposals() -> None:
    """Fails when the rule reaches a study that does not prune, or one whose finished trials
    were all stopped at a rung (a configuration stopped early may be judged again: its rung
    may have moved): both must get exactly the proposals they got before the rule."""
    history = _grid_history()
    stopped = [Observation(o.number, "pruned", o.vals, o.loss) for o in history]
    for observations, prunes in ((history, False), (stopped, True)):
        default = MultivariateTPESampler(GRID, seed=2)
        other = MultivariateTPESampler(GRID, seed=2, prunes=prunes)
        default.observe(observations)
        other.observe(observations)
        assert _proposals(default, range(31, 51)) == _proposals(other, range(31, 51))


def test_the_rule_keeps_proposals_a_function_of_seed_history_and_number() -> None:
    """Fails when skipping repeats makes a proposal depend on anything but the study's seed,
    its history and the trial number (the order of earlier proposals, a process's past):
    replicas and the snapshot proposals of storage/proposing.py rely on it."""
    history = _grid_history()
    first = MultivariateTPESampler(GRID, seed=3, prunes=True)
    first.observe(history[:10])
    _proposals(first, range(100, 110))  # proposals made before the history is complete
    first.observe(history[10:])
    second = MultivariateTPESampler(GRID, seed=3, prunes=True)
    second.observe(list(reversed(history)))
    assert _proposals(first, range(31, 41)) == _proposals(second, range(31, 41))


def test_nested_spaces_skip_a_repeat_in_the_group_that_completes_it() -> None:
    """Fails when the rule breaks nested spaces or ignores them: an sgd configuration is
    whole only once its branch's group (momentum) is sampled, and that group must pass over
    a repeat (a flat space's, the top-level group's, is the test above)."""
    momentum = {"type": "int", "low": 0, "high": 5}
    space = parse_space(
        {
            "units": {"type": "int", "low": 1, "high": 9},
            "optimizer": {
                "type": "choice",
                "options": [{"name": "sgd", "momentum": momentum}, {"name": "adam"}],
            },
        }
    )
    rng = np.random.default_rng(4)
    history = []
    for number in range(1, 61):
        vals = {"units": int(rng.integers(1, 10)), "optimizer": int(rng.integers(2))}
        if vals["optimizer"] == 0:
            vals["optimizer.sgd.momentum"] = int(rng.integers(6))
        loss = abs(vals["units"] - 5) + vals.get("optimizer.sgd.momentum", 0) / 5
        history.append(Observation(number, "complete", vals, loss))
    done = [dict(o.vals) for o in history]
    plain = MultivariateTPESampler(space, seed=4)
    pruning = MultivariateTPESampler(space, seed=4, prunes=True)
    plain.observe(history)
    pruning.observe(history)
    assert any(vals in done for vals in _proposals(plain, range(61, 81)))
    proposals = _proposals(pruning, range(61, 81))
    assert all("optimizer.sgd.momentum" in vals for vals in proposals)  # sgd, whole
    assert not any(vals in done for vals in proposals)


def test_continuous_configurations_are_not_kept() -> None:
    """Fails when a pruning study on a continuous space pays for the rule: such values
    never come again exactly, so nothing is kept or compared."""
    sampler = MultivariateTPESampler(MIXED, seed=0, prunes=True)
    sampler.observe(history(MIXED, 20, lambda vals: 1.0))
    assert not sampler._trained


def test_the_factory_passes_on_whether_the_study_prunes() -> None:
    """Fails when make_sampler drops `prunes` (service/proposals.py passes it from the
    study's pruner): the rule would never act."""
    pruning = make_sampler("tpe-mv", {}, GRID, 0, prunes=True)
    plain = make_sampler("tpe-mv", {}, GRID, 0)
    assert isinstance(pruning, MultivariateTPESampler) and pruning._prunes
    assert isinstance(plain, MultivariateTPESampler) and not plain._prunes
