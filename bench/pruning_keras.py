"""Pruning through the service, with real Keras: TPE alone against TPE + ASHA and Hyperband.

The tabular replay (bench/pruning.py) affords many seeds and 16 workers; this is the same
question asked of the real thing, small: a real server (in this process, on SQLite, as the
quickstart's) and two real `parzen worker` processes training the built-in builders on
datasets shipped in scikit-learn, the study's budget given in epochs
(`budget.max_epochs_total`). Per task, method and seed: the epochs trained (every reported
epoch), the trials, the best validation accuracy of a complete trial, and that trial's
test accuracy from the service's sealed test step (`finalize`, top 1, its checkpoint).

    python -m bench.pruning_keras                       # 2 tasks x 3 methods x 2 seeds
    python -m bench.pruning_keras --seeds 1 --tasks mlp-breast-cancer --epoch-budget 30
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOKEN = "bench-pruning-token-local"  # PARZEN_ADMIN_TOKEN needs 16 characters
WORKERS = 2  # one per core
MAX_EPOCHS = 9  # rungs at 1 and 3 epochs (reduction factor 3), the end at 9
HALVING = {"min_epochs": 1, "reduction_factor": 3}
METHODS: dict[str, dict[str, Any] | None] = {
    "tpe": None,
    "tpe + asha": {"type": "asha", **HALVING},
    "tpe + hyperband": {"type": "hyperband", **HALVING},
}
LEARNING_RATE = {"type": "loguniform", "low": 1e-4, "high": 3e-2}
# task -> (builder, dataset, space): both built-in builders, two scikit-learn datasets
TASKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mlp-breast-cancer": (
        "mlp",
        "breast_cancer",
        {
            "optimizer": "sgd",
            "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
            "momentum": {"type": "uniform", "low": 0.0, "high": 0.95},
            "units": {"type": "int", "low": 8, "high": 128, "log": True},
            "layers": {"type": "int", "low": 1, "high": 3},
        },
    ),
    "convnet-digits": (
        "convnet",
        "digits",
        {
            "learning_rate": {"type": "loguniform", "low": 3e-4, "high": 1e-1},
            "filters": {"type": "int", "low": 4, "high": 16},
            "blocks": {"type": "int", "low": 1, "high": 3},
            "dense_units": {"type": "choice", "options": [0, 64]},
        },
    ),
    "mlp-digits": (
        "mlp",
        "digits_flat",
        {
            "learning_rate": LEARNING_RATE,
            "units": {"type": "int", "low": 16, "high": 256, "log": True},
            "layers": {"type": "int", "low": 1, "high": 3},
            "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
        },
    ),
}


@dataclass(frozen=True)
class Outcome:
    """One study: what it spent and what it found."""

    task: str
    method: str
    seed: int
    epochs: int  # every reported epoch of every trial
    trials: int
    complete: int
    best_val: float
    test: float  # the sealed test step's accuracy of the best complete trial
    seconds: float


def study_body(task: str, method: str, seed: int, epoch_budget: int) -> dict[str, Any]:
    builder, dataset, space = TASKS[task]
    body: dict[str, Any] = {
        "name": f"{task}-{method.replace(' + ', '-')}-{seed}",
        "direction": "maximize",
        "metric": "val_accuracy",
        "space": space,
        "seed": seed,
        "objective": {
            "builder": builder,
            "dataset": dataset,
            "max_epochs": MAX_EPOCHS,
            "patience": MAX_EPOCHS,  # no early stopping: only the pruner stops a trial
            "batch_size": 64,
        },
        "budget": {
            "max_trials": 10_000,
            "max_parallel": WORKERS,
            "max_epochs_total": epoch_budget,
        },
    }
    if METHODS[method] is not None:
        body["pruner"] = METHODS[method]
    return body


@contextmanager
def service(tmp: Path) -> Iterator[Any]:
    """A real server on SQLite in this process, and `WORKERS` real `parzen worker`
    processes serving it until the block ends (then SIGTERM: they finish and say goodbye)."""
    from parzen.service.config import Settings
    from parzen.service.db.migrate import upgrade
    from parzen.service.main import create_app
    from parzen.service.server import ServerThread
    from parzen.worker.client import ParzenClient

    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = Settings(database_url=url, admin_token=TOKEN, artifact_dir=tmp / "artifacts")
    # JAX: 2-3x faster than TensorFlow on models this small, as in bench/pruning_curves.py
    env = os.environ | {"PARZEN_TOKEN": TOKEN, "KERAS_BACKEND": "jax"}
    with ServerThread(create_app(settings)) as server, ParzenClient(server.url, TOKEN) as api:
        command = [sys.executable, "-m", "parzen.cli.main", "worker", "--url", server.url]
        workers = [
            subprocess.Popen(
                [*command, "--poll", "0.1", "--artifact-dir", str(tmp / f"worker-{k}")],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(tmp / f"worker-{k}.log").open("w"),
            )
            for k in range(WORKERS)
        ]
        try:
            yield api
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=120)


def run_study(api: Any, task: str, method: str, seed: int, epoch_budget: int) -> Outcome:
    """Create the study, wait until the workers complete it, then finalize its best trial."""
    started = time.monotonic()
    name = api.create_study(study_body(task, method, seed, epoch_budget))["name"]
    while api.get_study(name)["state"] != "complete":
        time.sleep(0.2)
    trials = api.all_trials(name)
    complete = [t for t in trials if t["state"] == "complete"]
    api.finalize(name, top_k=1, mode="checkpoint", rescore="none")
    while (report := api.test_report(name)["report"]) is None:
        failed = [f for f in api.test_report(name)["finalizations"] if f.get("error")]
        if failed:
            raise RuntimeError(f"{name}: finalization failed: {failed[0]['error'][-2000:]}")
        time.sleep(0.2)
    return Outcome(
        task=task,
        method=method,
        seed=seed,
        epochs=sum(t["last_step"] or 0 for t in trials),
        trials=len(trials),
        complete=len(complete),
        best_val=max(float(t["value"]) for t in complete),  # the pick's (ties: the service's)
        test=float(report["pick"]["test"]),
        seconds=time.monotonic() - started,
    )


def mean_se(values: Sequence[float]) -> str:
    data = np.asarray(values, dtype=float)
    if len(data) < 2:
        return f"{data.mean():.4f}"
    return f"{data.mean():.4f} ± {data.std(ddof=1) / math.sqrt(len(data)):.4f}"


def table_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """Per task and method (in the order run): seeds, epochs, trials, complete, best val
    and its test (mean ± standard error over seeds), seconds of wall time."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.task, outcome.method), []).append(outcome)
    rows = []
    for (task, method), runs in groups.items():
        rows.append(
            [
                task,
                method,
                str(len(runs)),
                f"{np.mean([r.epochs for r in runs]):.0f}",
                f"{np.mean([r.trials for r in runs]):.0f}",
                f"{np.mean([r.complete for r in runs]):.0f}",
                mean_se([r.best_val for r in runs]),
                mean_se([r.test for r in runs]),
                f"{np.mean([r.seconds for r in runs]):.0f}",
            ]
        )
    return rows


COLUMNS = ("task", "method", "seeds", "epochs", "trials", "complete", "best val", "its test", "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--tasks", nargs="*", default=["mlp-breast-cancer", "convnet-digits"])
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--epoch-budget", type=int, default=12 * MAX_EPOCHS, help="budget.max_epochs_total"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    started = time.monotonic()
    outcomes = []
    prefix = "parzen-pruning-keras-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, service(Path(tmp)) as api:
        for task in args.tasks:
            for seed in range(args.seeds):
                for method in args.methods:
                    outcome = run_study(api, task, method, seed, args.epoch_budget)
                    outcomes.append(outcome)
                    print(f"  {outcome}", flush=True)
    show(outcomes, args.epoch_budget)
    print(f"took {time.monotonic() - started:.0f} s")


def show(outcomes: Sequence[Outcome], epoch_budget: int) -> None:
    from rich.console import Console
    from rich.table import Table

    title = (
        f"real Keras through the service: {WORKERS} workers, budget.max_epochs_total "
        f"{epoch_budget}, {MAX_EPOCHS} epochs a trial"
    )
    table = Table(*COLUMNS, title=title)
    for row in table_rows(outcomes):
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
