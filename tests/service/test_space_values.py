"""`vals_from_params`: the inverse of `params_from_vals`, which imports rely on."""

from __future__ import annotations

import pytest

from parzen.service.algorithms import RandomSampler
from parzen.service.space import SpaceValidationError, parse_space
from parzen.service.space_values import vals_from_params
from tests.service.factories import MIXED_SPACE

NESTED = {
    "opt": {
        "type": "choice",
        "options": [
            {"name": "sgd", "momentum": {"type": "quniform", "low": 0.0, "high": 0.9, "q": 0.1}},
            {"name": "adam", "beta": {"type": "choice", "options": [{"name": "low"}, "high"]}},
            1.5,
        ],
    },
    "flag": {"type": "choice", "options": [False, True]},
    "const": 3,
}


@pytest.mark.parametrize("raw", [MIXED_SPACE, NESTED])
def test_every_proposal_converts_back_to_the_same_vals(raw) -> None:
    space = parse_space(raw)
    sampler = RandomSampler(space, seed=7)
    for number in range(1, 60):
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        back = vals_from_params(space, params)
        assert space.params_from_vals(back) == params
        assert set(back) == set(space.active_labels(vals))


def test_values_the_space_does_not_allow_are_named_by_path() -> None:
    space = parse_space(MIXED_SPACE)
    params = {
        "learning_rate": 5.0,  # outside
        "units": 16.5,  # not an integer
        "activation": "tanh",  # not an option
        "layer": {"kind": "conv", "filters": 8},  # kernel_size missing
        "dropout": "x",
    }
    with pytest.raises(SpaceValidationError) as caught:
        vals_from_params(space, params)
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {
        "$.learning_rate",
        "$.units",
        "$.activation",
        "$.layer.kernel_size",
        "$.dropout",
    }


def test_a_boolean_is_not_taken_for_the_number_one() -> None:
    space = parse_space({"x": {"type": "choice", "options": [1, True]}})
    assert vals_from_params(space, {"x": True}) == {"x": 1}
    assert vals_from_params(space, {"x": 1}) == {"x": 0}
    assert vals_from_params(space, {"x": 1.0}) == {"x": 0}
