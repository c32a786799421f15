"""The benchmark's objectives: minima that are right, spaces the three optimizers share."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from hyperopt import hp  # noqa: F401  (the bench's hyperopt translation needs it)
from hyperopt.pyll.stochastic import sample

from bench.broad_synthetic import GRID_MIX_MIN, KERAS_LIKE_MIN, _grid_mix, _keras_like
from bench.objectives import BROAD, OBJECTIVES, get_objective, hyperopt_space, suggest_optuna
from parzen.service.algorithms import make_sampler
from parzen.service.space import parse_space


@pytest.mark.parametrize("name", BROAD)
def test_no_point_beats_the_known_minimum(name: str) -> None:
    """Regret would go negative (and rank nonsense) if an optimum were wrong."""
    objective = get_objective(name)
    space = parse_space(objective.space)
    sampler = make_sampler("random", {}, space, 0)
    values = [
        objective.true_value(space.params_from_vals(sampler.propose(i))) for i in range(1, 300)
    ]
    assert min(values) >= objective.optimum - 1e-9
    assert min(values) > objective.optimum  # random search does not find it in 300


def test_the_keras_like_minimum_is_reached_at_its_closed_form_point() -> None:
    best = {
        "optimizer": {"name": "adam", "learning_rate": 1e-3, "beta_1": 0.9},
        "layers": 4,
        "units": 128,
        "activation": "elu",
        "dropout": 0.1,
        "batch_size": 64,
        "batch_norm": True,
    }
    assert _keras_like(best) == pytest.approx(KERAS_LIKE_MIN)
    worse = {**best, "batch_norm": False}
    assert _keras_like(worse) > KERAS_LIKE_MIN + 0.02  # four layers need batch norm


def test_the_grid_mix_minimum_is_a_point_of_its_space() -> None:
    objective = get_objective("grid_mix")
    space = parse_space(objective.space)
    sampler = make_sampler("random", {}, space, 1)
    # Some point of the grid reaches it exactly: the minimum is no lower bound only.
    best = min(_grid_mix(space.params_from_vals(sampler.propose(i))) for i in range(1, 3000))
    assert best >= GRID_MIX_MIN
    assert GRID_MIX_MIN > 0


@pytest.mark.parametrize("name", ["keras_like", "grid_mix", "nb201-c100", "kc1"])
def test_optuna_and_hyperopt_hand_the_objective_parameters_of_its_own_shape(name: str) -> None:
    objective = get_objective(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = suggest_optuna(study.ask(), objective.space)
        assert objective.true_value(params) >= objective.optimum - 1e-9
        drawn = sample(hyperopt_space(objective.space), rng=rng)
        from bench.search_quality import clip_ints

        drawn = clip_ints(objective.space, drawn)
        assert objective.true_value(drawn) >= objective.optimum - 1e-9


def test_every_objective_is_reachable_by_name() -> None:
    assert len(OBJECTIVES) == 16 and len(set(OBJECTIVES)) == 16
    with pytest.raises(KeyError, match="unknown objective"):
        get_objective("nosuch")
