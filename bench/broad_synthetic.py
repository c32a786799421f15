"""The synthetic objectives issue 18 added, so that a change tuned on the benchmark carries over.

- styblinski10: Styblinski-Tang in 10 dimensions (more dimensions than Hartmann6), its
  minimum off the centre of the range, where TPE's prior kernel sits;
- grid_mix: six ordered grids of 10 values and three categoricals (4, 3 and 2 options); the
  first categorical moves the best values of two grids, the other two interact; noisy;
- keras_like: a conditional space shaped as a Keras user writes one: the optimizer is a
  choice of branches, each with its own log-scale learning rate (and beta_1, or momentum and
  nesterov), beside an int layer count, log-scale int units, activation, a quantized
  dropout, a batch size choice and batch normalization. A made-up validation loss with
  the couplings a real one has: the best learning rate grows with the batch size, SGD's
  with its momentum (through lr / (1 - momentum)), the best dropout with the capacity
  (layers x log2 units), and deep networks need batch normalization. Its minimum, 0.1, is
  known in closed form; evaluations add noise (sd 0.005).

Cheap (microseconds per evaluation) and deterministic for a seed: the tables of grid_mix
come from a fixed generator.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from bench.objective import Objective, Params, Space

STYBLINSKI_X = -2.903534027771177  # the minimizer in each dimension
STYBLINSKI_MIN = -39.16616570377142  # per dimension
S10 = [f"x{i}" for i in range(10)]


def styblinski(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


# -- grid_mix ------------------------------------------------------------------------------

GRIDS = [f"g{i}" for i in range(6)]
_CATS: dict[str, list[Any]] = {
    "c0": ["a", "b", "c", "d"],
    "c1": ["x", "y", "z"],
    "c2": [True, False],
}
_rng = np.random.default_rng(2026)
_TARGET = _rng.integers(1, 9, size=len(GRIDS))  # the best value of each grid, off its ends
_CURVE = _rng.uniform(0.2, 1.0, size=len(GRIDS))
_SHIFT = _rng.integers(-3, 4, size=(len(_CATS["c0"]), 2))  # c0 moves g0's and g1's best
_EFFECT = {name: _rng.uniform(0.0, 0.3, size=len(options)) for name, options in _CATS.items()}
_PAIR = _rng.uniform(0.0, 0.2, size=(len(_CATS["c1"]), len(_CATS["c2"])))
del _rng


def _targets(c0: int) -> np.ndarray:
    targets = _TARGET.copy()
    targets[:2] = np.clip(targets[:2] + _SHIFT[c0], 0, 9)
    return targets


def _grid_mix(params: Params) -> float:
    index = {name: options.index(params[name]) for name, options in _CATS.items()}
    grids = np.array([params[g] for g in GRIDS], dtype=float)
    bowl = float(np.sum(_CURVE * ((grids - _targets(index["c0"])) / 9) ** 2))
    effects = sum(float(_EFFECT[name][i]) for name, i in index.items())
    return bowl + effects + float(_PAIR[index["c1"], index["c2"]])


GRID_MIX_SPACE: Space = {
    **{g: {"type": "int", "low": 0, "high": 9} for g in GRIDS},
    **{name: {"type": "choice", "options": list(options)} for name, options in _CATS.items()},
}
# Every grid can sit on its target, so the minimum is the best categorical combination's.
GRID_MIX_MIN = min(
    _grid_mix(
        {
            **dict(zip(_CATS, combo, strict=True)),
            **dict(zip(GRIDS, _targets(_CATS["c0"].index(combo[0])).tolist(), strict=True)),
        }
    )
    for combo in itertools.product(*_CATS.values())
)


# -- keras_like ----------------------------------------------------------------------------

KERAS_LIKE_SPACE: Space = {
    "optimizer": {
        "type": "choice",
        "options": [
            {
                "name": "adam",
                "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
                "beta_1": {"type": "uniform", "low": 0.8, "high": 0.999},
            },
            {
                "name": "sgd",
                "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1.0},
                "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
                "nesterov": {"type": "choice", "options": [True, False]},
            },
            {
                "name": "rmsprop",
                "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
            },
        ],
    },
    "layers": {"type": "int", "low": 1, "high": 6},
    "units": {"type": "int", "low": 16, "high": 1024, "log": True},
    "activation": {"type": "choice", "options": ["relu", "elu", "tanh", "selu"]},
    "dropout": {"type": "quniform", "low": 0.0, "high": 0.6, "q": 0.05},
    "batch_size": {"type": "choice", "options": [16, 32, 64, 128, 256]},
    "batch_norm": {"type": "choice", "options": [True, False]},
}
KERAS_LIKE_MIN = 0.1


def _keras_like(params: Params) -> float:
    scale = math.log2(params["batch_size"] / 64)
    opt: dict[str, Any] = params["optimizer"]
    lr = opt["learning_rate"]
    if opt["name"] == "adam":
        best_log_lr, extra = -3.0, 2 * (opt["beta_1"] - 0.9) ** 2
    elif opt["name"] == "sgd":
        lr = lr / (1 - opt["momentum"])  # the effective step
        best_log_lr, extra = -0.5, 0.02 + (0.0 if opt["nesterov"] else 0.01)
    else:
        best_log_lr, extra = -3.3, 0.01
    lr_term = 0.03 * (math.log10(lr) - best_log_lr - 0.3 * scale) ** 2
    capacity = params["layers"] * math.log2(params["units"])
    capacity_term = 0.05 * ((capacity - 28) / 10) ** 2
    batch_norm, layers = params["batch_norm"], params["layers"]
    depth_term = 0.03 * max(0, layers - 3) if not batch_norm else 0.005 * (layers <= 2)
    activation = {"elu": 0.0, "relu": 0.01, "tanh": 0.04, "selu": 0.02 if batch_norm else 0.0}
    best_dropout = min(max(0.1 + 0.1 * (capacity - 28) / 10, 0.0), 0.6)
    dropout_term = 0.3 * (params["dropout"] - best_dropout) ** 2
    return float(
        KERAS_LIKE_MIN
        + extra
        + lr_term
        + 0.004 * scale**2
        + capacity_term
        + depth_term
        + activation[params["activation"]]
        + dropout_term
    )


def _noise(sd: float, f: Any) -> Any:
    def noisy(params: Params, rng: np.random.Generator) -> float:
        return float(f(params) + rng.normal(0.0, sd))

    return noisy


OBJECTIVES: dict[str, Objective] = {
    "styblinski10": Objective(
        "styblinski10",
        {n: {"type": "uniform", "low": -5.0, "high": 5.0} for n in S10},
        lambda p: styblinski(np.array([p[n] for n in S10], dtype=float)),
        STYBLINSKI_MIN * len(S10),
    ),
    "grid_mix": Objective(
        "grid_mix", GRID_MIX_SPACE, _grid_mix, GRID_MIX_MIN, _noise(0.02, _grid_mix)
    ),
    "keras_like": Objective(
        "keras_like", KERAS_LIKE_SPACE, _keras_like, KERAS_LIKE_MIN, _noise(0.005, _keras_like)
    ),
}
