"""Random search: independent draws from each dimension's prior, history ignored."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from parzen.service.algorithms.base import Observation, Sampler, check_seed, trial_rng
from parzen.service.space import (
    Bounded,
    Categorical,
    Dimension,
    Distribution,
    Gaussian,
    IntRange,
    SearchSpace,
    SubSpace,
)


class RandomSampler(Sampler):
    def __init__(self, space: SearchSpace, *, seed: int) -> None:
        self._space = space
        self._seed = check_seed(seed)

    def observe(self, observations: Iterable[Observation]) -> None:
        pass

    def propose(self, number: int) -> dict[str, float | int]:
        return sample_prior(self._space, trial_rng(self._seed, number))


def sample_prior(space: SearchSpace, rng: np.random.Generator) -> dict[str, float | int]:
    """One draw of every active dimension, the chosen branches followed from the root."""
    vals: dict[str, float | int] = {}
    _sample_branch(space.root, rng, vals)
    return vals


def _sample_branch(sub: SubSpace, rng: np.random.Generator, vals: dict[str, float | int]) -> None:
    for entry in sub.params.values():
        if not isinstance(entry, Dimension) or entry.label in vals:
            continue
        value = vals[entry.label] = sample_distribution(entry.distribution, rng)
        if isinstance(entry.distribution, Categorical):
            option = entry.distribution.options[int(value)]
            if isinstance(option, SubSpace):
                _sample_branch(option, rng, vals)


def sample_distribution(dist: Distribution, rng: np.random.Generator) -> float | int:
    """The distributions hyperopt samples (and, for int, what tpe.py maps them to)."""
    if isinstance(dist, Bounded):
        if dist.log:
            return dist.snap(math.exp(rng.uniform(math.log(dist.low), math.log(dist.high))))
        return dist.snap(rng.uniform(dist.low, dist.high))
    if isinstance(dist, Gaussian):
        x = float(rng.normal(dist.mu, dist.sigma))
        return dist.snap(float(np.exp(x)) if dist.log else x)
    if isinstance(dist, IntRange):
        if dist.log:
            log_low, log_high = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
            return dist.snap(math.exp(rng.uniform(log_low, log_high)))
        return dist.low + int(rng.integers(dist.size)) * dist.step
    n = len(dist.options)
    if dist.probabilities is None:
        return int(rng.integers(n))
    p = np.asarray(dist.probabilities) / sum(dist.probabilities)
    return int(rng.choice(n, p=p))
