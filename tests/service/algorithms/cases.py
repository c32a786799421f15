"""The spaces, losses and histories that the sampler tests share."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from parzen.service.algorithms import Observation, RandomSampler, Sampler
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


def min_distance(proposals: Sequence[Vals]) -> float:
    points = np.array([[vals["x"], vals["y"]] for vals in proposals]) / 10  # box side 10
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(points, 2))
