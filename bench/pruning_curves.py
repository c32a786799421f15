"""Learning curves for the pruning benchmark: recorded once with real Keras, replayed after.

Each task is a grid over a few hyperparameters of a built-in builder on a built-in dataset;
every configuration of the grid is trained once for `EPOCHS` epochs without early stopping,
and its validation accuracy after each epoch plus its test accuracy at the end are kept in
`bench/data/pruning_curves.json.gz`. The replay then looks a proposal up in the grid (the
search space is one integer index per hyperparameter), so a sampler's proposals cost nothing
and many seeds with 16 simulated workers fit on two cores.

    python -m bench.pruning_curves mlp-digits  # record one task (JAX backend, minutes)
    python -m bench.pruning_curves --limit 2  # time two configurations of each task
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"  # one pruning_curves_<task>.json.gz per task
EPOCHS = 27  # 1, 3, 9, 27: the rungs of reduction factor 3 from one epoch

# task name -> (builder, dataset, fixed params, grid: param -> values, ordered): 108, 216
# and 108 configurations, so that a budget of 144 full trials does not just exhaust the grid
# (216 where training is cheap: breast cancer takes ~3.5 s a configuration, the others ~7 s).
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
TASKS: dict[str, tuple[str, str, dict[str, Any], dict[str, list[Any]]]] = {
    "mlp-digits": (
        "mlp",
        "digits_flat",
        {"optimizer": "adam"},
        {
            "learning_rate": LEARNING_RATES,
            "units": [16, 64, 256],
            "layers": [1, 2, 3],
            "dropout": [0.0, 0.5],
        },
    ),
    "mlp-breast-cancer": (
        "mlp",
        "breast_cancer",
        {"optimizer": "sgd"},
        {
            "learning_rate": LEARNING_RATES,
            "units": [8, 32, 128],
            "layers": [1, 2, 3],
            "momentum": [0.0, 0.9],
            "batch_norm": [False, True],
        },
    ),
    "convnet-digits": (
        "convnet",
        "digits",
        {"optimizer": "adam"},
        {
            "learning_rate": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
            "filters": [4, 8, 16],
            "blocks": [1, 2, 3],
            "dense_units": [0, 64],
        },
    ),
}


@dataclass(frozen=True)
class Curves:
    """One task's grid: per configuration (indices into each grid list) its curve."""

    name: str
    grid: dict[str, list[Any]]
    val: dict[tuple[int, ...], list[float]]  # validation accuracy after epochs 1..EPOCHS
    test: dict[tuple[int, ...], float]  # test accuracy after EPOCHS epochs

    @property
    def params(self) -> list[str]:
        return list(self.grid)


def configs(grid: Mapping[str, list[Any]]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(len(values)) for values in grid.values())))


def spread(items: list[tuple[int, ...]], limit: int | None) -> list[tuple[int, ...]]:
    """`limit` configurations spread evenly over the grid (all of them without one), so that
    timing a few covers the small and the large models alike."""
    if limit is None or limit >= len(items):
        return items
    return [items[round(i * (len(items) - 1) / max(limit - 1, 1))] for i in range(limit)]


def record_task(name: str, limit: int | None = None, epochs: int = EPOCHS) -> dict[str, Any]:
    """Train the task's configurations (or `limit` of them) for `epochs` epochs each."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # 2-3x faster than TF on such tiny models
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from parzen.worker.datasets.base import SplitSpec
    from parzen.worker.registry import Registry

    registry = Registry.default()
    spec = SplitSpec(seed=0, validation_fraction=0.2, test_fraction=0.2)
    builder_name, dataset_name, fixed, grid = TASKS[name]
    builder = registry.builder(builder_name)
    dataset = registry.dataset(dataset_name)
    data, test = dataset.load_search(spec), dataset.load_test(spec)
    rows = []
    for number, index in enumerate(spread(configs(grid), limit)):
        params = fixed | {key: grid[key][i] for key, i in zip(grid, index, strict=True)}
        keras.utils.set_random_seed(number)
        model = builder(params, data.info)
        history = model.fit(
            data.train.x,
            data.train.y,
            validation_data=(data.validation.x, data.validation.y),
            epochs=epochs,
            batch_size=64,
            verbose=0,
        )
        test_accuracy = model.evaluate(test.x, test.y, verbose=0, return_dict=True)["accuracy"]
        val = [round(float(v), 5) for v in history.history["val_accuracy"]]
        rows.append({"index": list(index), "val": val, "test": round(float(test_accuracy), 5)})
        keras.backend.clear_session()
    return {"task": name, "epochs": epochs, "grid": grid, "rows": rows}


def record(limit: int | None, names: list[str]) -> None:
    for name in names:
        start = time.monotonic()
        task = record_task(name, limit)
        took = time.monotonic() - start
        print(f"{name}: {len(task['rows'])} configurations in {took:.0f} s", flush=True)
        if limit is None:
            path = DATA / f"pruning_curves_{name}.json.gz"
            with gzip.open(path, "wt") as out:
                json.dump(task, out, separators=(",", ":"))
            print(f"wrote {path}")


def load() -> list[Curves]:
    tasks = []
    for name in TASKS:
        path = DATA / f"pruning_curves_{name}.json.gz"
        if not path.exists():  # not recorded yet
            continue
        with gzip.open(path, "rt") as data:
            task = json.load(data)
        val = {tuple(row["index"]): row["val"] for row in task["rows"]}
        test = {tuple(row["index"]): row["test"] for row in task["rows"]}
        tasks.append(Curves(name, task["grid"], val, test))
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--limit", type=int, default=None, help="time this many configurations per task"
    )
    parser.add_argument("tasks", nargs="*", choices=[[], *TASKS], help="default: all")
    args = parser.parse_args()
    record(args.limit, args.tasks or list(TASKS))


if __name__ == "__main__":
    main()
