"""The benchmark's variants of tpe-mv change only what they say, and are undone after."""

from __future__ import annotations

import numpy as np

from bench import variants
from parzen.service.algorithms import Observation, make_sampler, tpe_kernels, tpe_mv
from parzen.service.space import parse_space


def test_tied_share_equals_the_sampler_without_ties() -> None:
    rng = np.random.default_rng(0)
    mus = rng.uniform(0, 10, size=12)
    expected = tpe_kernels._bandwidths(mus, -0.5, 10.5, 11.0, 0.5)
    np.testing.assert_allclose(variants.bandwidths_tied_share(mus, -0.5, 10.5, 11.0, 0.5), expected)


def test_tied_observations_share_one_bandwidth_whatever_their_order() -> None:
    """The sampler's stable argsort gives the oldest of tied trials the left gap; shared,
    every trial on a value gets the same kernel."""
    mus = np.array([2.0, 5.0, 2.0, 2.0, 9.0])
    shared = variants.bandwidths_tied_share(mus, -0.5, 10.5, 11.0, 0.5)
    assert shared[0] == shared[2] == shared[3]
    plain = tpe_kernels._bandwidths(mus, -0.5, 10.5, 11.0, 0.5)
    assert len({plain[0], plain[2], plain[3]}) > 1


def _propose_with_running(names: list[str]) -> list[dict[str, float | int]]:
    """Six asks in flight on a small grid whose best cell dominates: plain tpe-mv re-proposes
    running configurations there (on seed 0, twice)."""
    space = parse_space(
        {"a": {"type": "int", "low": 0, "high": 4}, "b": {"type": "choice", "options": [0, 1, 2]}}
    )
    sampler = make_sampler("tpe-mv", {"n_startup_trials": 2}, space, 0)
    history = [Observation(i, "complete", {"a": 1, "b": 1}, 0.0) for i in range(1, 6)]
    history += [
        Observation(5 + i, "complete", {"a": i % 5, "b": (i + 1) % 3}, 5.0 + i)
        for i in range(1, 16)
        if (i % 5, (i + 1) % 3) != (1, 1)
    ]
    sampler.observe(history)
    proposed: list[dict[str, float | int]] = []
    with variants.applied(names):
        for number in range(100, 106):
            vals = sampler.propose(number)
            proposed.append(vals)
            sampler.observe([Observation(number, "running", vals, None)])
    return proposed


def _repeats(proposed: list[dict[str, float | int]]) -> int:
    return sum(vals in proposed[:i] for i, vals in enumerate(proposed))


def test_norun_never_proposes_a_running_configuration_and_is_undone() -> None:
    assert _repeats(_propose_with_running([])) > 0  # what the variant is there to change
    assert _repeats(_propose_with_running(["norun"])) == 0
    assert tpe_mv.MultivariateTPESampler.propose is variants._original_propose
    assert tpe_mv.MultivariateTPESampler._sample_group is variants._original_sample_group
    assert tpe_kernels._bandwidths is variants._original_bandwidths


def test_grow_draws_more_candidates_with_more_trials_running() -> None:
    counts: list[int] = []
    original = tpe_mv._Mixture.sample

    def counting(self: tpe_mv._Mixture, rng: np.random.Generator, size: int) -> np.ndarray:
        counts.append(size)
        return original(self, rng, size)

    tpe_mv._Mixture.sample = counting  # type: ignore[method-assign]
    try:
        _propose_with_running(["grow"])
    finally:
        tpe_mv._Mixture.sample = original  # type: ignore[method-assign]
    assert counts[0] == 24 and counts[-1] == 24 * 6
