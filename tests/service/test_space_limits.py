"""A new study's space must be one the samplers can draw from and JSON can carry."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from parzen.service.algorithms import ALGORITHMS, Observation, make_sampler, validate_algorithm
from parzen.service.space import SpaceValidationError, parse_space
from parzen.service.space_limits import MAX_DIMENSIONS, MAX_OPTIONS, validate_space

# Spaces that parse_space accepts but no sampler can serve (found by an adversarial tester).
UNSAMPLABLE: dict[str, tuple[dict[str, Any], str, str]] = {
    "uniform ±1e308": ({"type": "uniform", "low": -1e308, "high": 1e308}, "$.x.low", "±1e+15"),
    "int near 2**62": ({"type": "int", "low": 0, "high": 2**62}, "$.x.high", "±2**53"),
    "int up to 1e23": ({"type": "int", "low": 0, "high": 1e23}, "$.x.high", "±2**53"),
    "qloguniform q=1e-300": (
        {"type": "qloguniform", "low": 1e-3, "high": 1, "q": 1e-300},
        "$.x.q",
        "grid points",
    ),
    "lognormal mu=800": ({"type": "lognormal", "mu": 800, "sigma": 1}, "$.x.mu", "exp()"),
    "normal sigma=1e308": ({"type": "normal", "mu": 0, "sigma": 1e308}, "$.x.sigma", "<= 1e+15"),
}
# Every kind of parameter at the edge of its limits: each must be accepted and sampled.
AT_THE_LIMITS: dict[str, Any] = {
    "u": {"type": "uniform", "low": -1e15, "high": 1e15},
    "q": {"type": "quniform", "low": -1e15, "high": 1e15, "q": 2000},
    "lu": {"type": "loguniform", "low": 1e-300, "high": 1e15},
    "qlu": {"type": "qloguniform", "low": 1e-3, "high": 1e3, "q": 1e-9},
    "i": {"type": "int", "low": -(2**53), "high": 2**53},
    "il": {"type": "int", "low": 1, "high": 2**53, "log": True},
    "n": {"type": "qnormal", "mu": 1e15, "sigma": 1e15, "q": 1e3},
    "ln": {"type": "lognormal", "mu": 100, "sigma": 20},
    "lnlow": {"type": "lognormal", "mu": -100, "sigma": 20},
    "qln": {"type": "qlognormal", "mu": 0, "sigma": 20, "q": 20e-12},
    "c": {"type": "choice", "options": list(range(MAX_OPTIONS))},
}


@pytest.mark.parametrize("example", list(UNSAMPLABLE))
def test_unsamplable_spaces_are_refused_with_path_and_reason(example: str) -> None:
    """Fails if a space whose draws are inf, null or past 2**53 validates (every ask 500s)."""
    node, path, reason = UNSAMPLABLE[example]
    parse_space({"x": node})  # the lenient parser, for stored studies, still reads it
    with pytest.raises(SpaceValidationError) as caught:
        validate_space({"x": node})
    assert caught.value.issues[0].path == path
    assert reason in caught.value.issues[0].message


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_draws_finite_values_at_the_limits(algorithm: str) -> None:
    """Fails if a space at the limits still lets a sampler draw a value JSON cannot carry."""
    space = validate_space(AT_THE_LIMITS)
    startup = {} if algorithm == "random" else {"n_startup_trials": 3}
    settings = validate_algorithm(algorithm, startup)
    sampler = make_sampler(algorithm, settings, space, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # hyperopt's log(0) on a far tail
        for number in range(1, 13):
            vals = sampler.propose(number)
            for label, value in space.params_from_vals(vals).items():
                finite = math.isfinite(value) and abs(value) <= 1e300
                assert finite and (not isinstance(value, int) or abs(value) <= 2**53), label
            loss = float(number % 4)
            sampler.observe([Observation(number=number, state="complete", vals=vals, loss=loss)])


def test_deep_nesting_is_refused_before_parsing() -> None:
    """Fails if a very deep space reaches the parser (RecursionError, a 500) or is stored."""
    space: dict[str, Any] = {"x": {"type": "uniform", "low": 0, "high": 1}}
    for _ in range(2000):
        space = {"c": {"type": "choice", "options": [space]}}
    with pytest.raises(SpaceValidationError, match="nested deeper than 32"):
        validate_space(space)


def test_ten_nested_choices_are_allowed_and_eleven_are_not() -> None:
    def nest(n: int) -> dict[str, Any]:
        space: dict[str, Any] = {"x": {"type": "uniform", "low": 0, "high": 1}}
        for _ in range(n):
            space = {"c": {"type": "choice", "options": [space, "none"]}}
        return space

    validate_space(nest(10))
    with pytest.raises(SpaceValidationError, match="nested deeper"):
        validate_space(nest(11))


def test_too_many_parameters_or_options() -> None:
    """Fails if the number of parameters or of a choice's options is not bounded."""
    many = {f"p{i}": {"type": "int", "low": 0, "high": 1} for i in range(MAX_DIMENSIONS + 1)}
    with pytest.raises(SpaceValidationError, match="1001 parameters; at most 1000"):
        validate_space(many)
    options = {"c": {"type": "choice", "options": list(range(MAX_OPTIONS + 1))}}
    with pytest.raises(SpaceValidationError) as caught:
        validate_space(options)
    assert caught.value.issues[0].path == "$.c.options"


def test_long_constants_are_refused() -> None:
    """Fails if a space may carry a huge constant (copied into every trial and listing)."""
    with pytest.raises(SpaceValidationError) as caught:
        validate_space({"x": {"type": "uniform", "low": 0, "high": 1}, "note": "n" * 10_001})
    assert caught.value.issues[0].path == "$.note"
    assert "longer than 10000" in caught.value.issues[0].message
