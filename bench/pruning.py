"""Pruning benchmark: the best final model per epoch trained, Parzen's pruners against Optuna's.

A tabular replay of real Keras learning curves (bench/pruning_curves.py records them once
into bench/data/): each method searches the grid of a task with 16 asynchronous simulated
workers until a budget of epochs is spent. Parzen's methods go through the real storage
(SQLite, migrated by Alembic) and samplers, exactly as a worker's ask / report / tell do;
Optuna's through optuna's own ask-and-tell with its TPESampler and pruners. An epoch takes
a worker one unit of time, jittered by +-20% per trial so that workers drift apart.

Per method, mean and standard error over seeds: the best final validation accuracy found
(the accuracy after the last epoch of a trial trained to the end), the test accuracy of that
trial, and the anytime curve (that best against epochs spent, PNG). The headline is the
share of TPE-without-pruning's budget that Parzen's best halving pruner needs to reach the
quality TPE-without-pruning ends with (within one standard error).

    python -m bench.pruning                     # 3 tasks x 6 seeds x 8 methods, 3,888 epochs
    python -m bench.pruning --seeds 2 --tasks mlp-digits   # a quick look
    python -m bench.pruning --tasks mlp-digits --out a.json   # one task per process, then
    python -m bench.pruning --combine a.json b.json c.json    # the tables of them all
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import math
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from bench.pruning_curves import EPOCHS, Curves, load
from bench.pruning_report import report

WORKERS = 16
METHODS = (
    "parzen tpe",
    "parzen tpe + median",
    "parzen tpe + asha",
    "parzen tpe + hyperband",
    "parzen random + asha",
    "optuna tpe + median",
    "optuna tpe + sha",
    "optuna tpe + hyperband",
)
HALVING = {"min_epochs": 1, "reduction_factor": 3, "max_epochs": EPOCHS}
MEDIAN = {"n_startup_trials": 5, "n_warmup_steps": 2}


class Search(Protocol):
    """One optimizer as a worker sees it: a trial's grid index, its reports, its end."""

    def ask(self) -> tuple[Any, tuple[int, ...]]: ...

    def report(self, handle: Any, epoch: int, value: float) -> bool: ...  # True: stop

    def tell(self, handle: Any, state: Literal["complete", "pruned"], value: float) -> None: ...


@dataclass
class Run:
    """What one seed of one method did: (epochs spent, best final val, its test) events."""

    curve: list[tuple[int, float, float]] = field(default_factory=list)
    trials: int = 0
    completed: int = 0
    # Would promotion pay? Trials stopped at a rung that are in its top 1/eta once the run
    # ends (promotable), and how many of those would have beaten the best final trial.
    stopped: int = 0
    promotable: int = 0
    promotable_better: int = 0
    # Trials of a configuration a finished trial of the run already had: pure waste in the
    # replay (the same curve again), a noisy re-run in real training.
    repeated_complete: int = 0
    repeated_pruned: int = 0

    def best_at(self, epochs: int) -> tuple[float, float]:
        best = (math.nan, math.nan)
        for spent, val, test in self.curve:
            if spent > epochs:
                break
            best = (val, test)
        return best


def simulate(search: Search, curves: Curves, budget: int, seed: int) -> Run:
    """16 workers train trials epoch by epoch until `budget` epochs are spent."""
    rng = np.random.default_rng(seed)
    run, spent, best = Run(), 0, -math.inf
    # (time the worker's next epoch ends, worker, handle, config, epoch, seconds per epoch)
    events: list[tuple[float, int, Any, tuple[int, ...], int, float]] = []
    finished: dict[tuple[int, ...], str] = {}  # config -> "complete", else "pruned"

    def start(worker: int, now: float) -> None:
        handle, config = search.ask()
        run.trials += 1
        run.repeated_complete += finished.get(config) == "complete"
        run.repeated_pruned += finished.get(config) == "pruned"
        pace = float(rng.uniform(0.8, 1.2))
        heapq.heappush(events, (now + pace, worker, handle, config, 1, pace))

    for worker in range(WORKERS):
        start(worker, 0.0)
    while spent < budget:
        now, worker, handle, config, epoch, pace = heapq.heappop(events)
        spent += 1
        value = curves.val[config][epoch - 1]
        if epoch == EPOCHS:
            search.tell(handle, "complete", value)
            finished[config] = "complete"
            run.completed += 1
            if value > best:
                best = value
                run.curve.append((spent, value, curves.test[config]))
        elif search.report(handle, epoch, value):
            search.tell(handle, "pruned", value)
            finished.setdefault(config, "pruned")
        else:
            heapq.heappush(events, (now + pace, worker, handle, config, epoch + 1, pace))
            continue
        start(worker, now)
    if isinstance(search, ParzenSearch):
        search.count_promotable(curves, best, run)
    return run


class ParzenSearch:
    """Parzen's storage and samplers, called as the API's handlers call them."""

    def __init__(self, template: Path, tmp: Path, curves: Curves, method: str, seed: int):
        from parzen.service.algorithms.pruners import HalvingPruner, make_pruner, validate_pruner
        from parzen.service.proposals import SamplerPool
        from parzen.service.storage import Storage, StudySpec

        path = tmp / f"run-{seed}.db"
        shutil.copy(template, path)
        self.storage = Storage.from_url(f"sqlite:///{path}")
        self.pool = SamplerPool()
        pruner: dict[str, Any] = {"type": "none"}
        for kind, settings in (("median", MEDIAN), ("asha", HALVING), ("hyperband", HALVING)):
            if method.endswith(f"+ {kind}"):
                pruner = validate_pruner({"type": kind, **settings})
        self.storage.create_study(
            spec=StudySpec(
                name="bench",
                direction="maximize",
                metric="val_accuracy",
                space={
                    name: {"type": "int", "low": 0, "high": len(values) - 1}
                    for name, values in curves.grid.items()
                },
                algorithm="random" if "random" in method else "tpe-mv",
                algorithm_settings={},
                objective={},
                seed=seed,
                max_trials=100_000,
                max_parallel=WORKERS,
                timeout_seconds=None,
                target_value=None,
                lease_seconds=3600.0,
                max_attempts=3,
                pruner=pruner,
            )
        )
        self.names = curves.params
        # Which epochs need a report to the server: every one for the median pruner (it
        # compares at every epoch), the rung epochs for ASHA and Hyperband (nothing is
        # decided between rungs, so the decisions are the same), none without a pruner.
        # A shortcut of the replay only, to save SQL round trips on two cores.
        halving = make_pruner(pruner)
        if pruner["type"] == "median":
            self.reported = set(range(1, EPOCHS + 1))
        elif isinstance(halving, HalvingPruner):
            brackets = range(halving.n_brackets)
            self.reported = {epoch for b in brackets for epoch in halving.rungs(b)}
        else:
            self.reported = set()

    def ask(self) -> tuple[Any, tuple[int, ...]]:
        trial = self.storage.ask(study_name="bench", worker_id=None, proposer=self.pool).trial
        assert trial is not None
        return trial, tuple(int(trial.params[name]) for name in self.names)

    def report(self, handle: Any, epoch: int, value: float) -> bool:
        if epoch not in self.reported:
            return False
        result = self.storage.report(
            trial_id=handle.id,
            lease_token=handle.lease_token,
            step=epoch,
            values={"val_accuracy": value},
        )
        return result.should_stop

    def tell(self, handle: Any, state: Literal["complete", "pruned"], value: float) -> None:
        self.storage.tell(
            trial_id=handle.id, lease_token=handle.lease_token, state=state, value=value
        )

    def count_promotable(self, curves: Curves, best: float, run: Run) -> None:
        """Stopped trials whose configuration is in its rung's top 1/eta once the run ends,
        each configuration counted once with the mean of its entries, as the rung judges."""
        from sqlalchemy import select

        from parzen.service.db.models import RungEntry, Trial

        with self.storage.session() as session:
            rows = session.execute(
                select(
                    RungEntry.bracket,
                    RungEntry.epoch,
                    RungEntry.value,
                    RungEntry.keep,
                    Trial.params,
                ).join(Trial, Trial.id == RungEntry.trial_id)
            ).all()
        rungs: dict[tuple[int, int], dict[tuple[int, ...], list[Any]]] = {}
        for row in rows:
            config = tuple(int(row.params[name]) for name in self.names)
            rungs.setdefault((row.bracket, row.epoch), {}).setdefault(config, []).append(row)
        for by_config in rungs.values():
            means = {c: float(np.mean([e.value for e in es])) for c, es in by_config.items()}
            ranked = sorted(means.values(), reverse=True)
            keep = len(ranked) // HALVING["reduction_factor"]
            cutoff = ranked[keep - 1] if keep else -math.inf
            for config, entries in by_config.items():
                for entry in entries:
                    if entry.keep:
                        continue
                    run.stopped += 1
                    if means[config] >= cutoff:
                        run.promotable += 1
                        run.promotable_better += curves.val[config][-1] > best

    def close(self) -> None:
        self.storage.close()


class OptunaSearch:
    def __init__(self, curves: Curves, method: str, seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner: Any
        if method.endswith("median"):
            pruner = optuna.pruners.MedianPruner(**MEDIAN)
        elif method.endswith("sha"):
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        else:
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=EPOCHS, reduction_factor=3
            )
        # constant_liar: as Parzen's TPE, so that 16 workers in flight are not sent alike.
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        self.study = optuna.create_study(
            study_name=f"bench-{seed}", direction="maximize", sampler=sampler, pruner=pruner
        )
        self.grid = curves.grid

    def ask(self) -> tuple[Any, tuple[int, ...]]:
        trial = self.study.ask()
        config = tuple(
            trial.suggest_int(name, 0, len(values) - 1) for name, values in self.grid.items()
        )
        return trial, config

    def report(self, handle: Any, epoch: int, value: float) -> bool:
        handle.report(value, epoch)
        return bool(handle.should_prune())

    def tell(self, handle: Any, state: Literal["complete", "pruned"], value: float) -> None:
        import optuna

        if state == "complete":
            self.study.tell(handle, value)
        else:
            self.study.tell(handle, state=optuna.trial.TrialState.PRUNED)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    # 144 full trials: with 16 workers none ends before 16 x 27 epochs, a ninth of the budget
    parser.add_argument("--trials", type=int, default=144, help="budget: this many full trials")
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", type=Path, help="also keep the runs in this JSON file")
    parser.add_argument(
        "--combine", nargs="*", type=Path, help="report the runs of these --out files instead"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    budget = args.trials * EPOCHS
    if args.combine:
        combined: dict[tuple[str, str], list[Run]] = {}
        for path in args.combine:
            stored = json.loads(path.read_text())
            budget = stored["budget"]
            for key, runs in stored["runs"].items():
                task, method = key.split("|")
                combined.setdefault((task, method), []).extend(Run(**run) for run in runs)
        done = {task for task, _ in combined}
        # methods that every task has (a run cut short keeps the methods it finished)
        methods = [m for m in METHODS if all((task, m) in combined for task in done)]
        report([c for c in load() if c.name in done], methods, combined, budget)
        return
    known = load()
    unknown = sorted(set(args.tasks or ()) - {c.name for c in known})
    if unknown:
        names = ", ".join(c.name for c in known)
        parser.error(f"unknown task(s) {', '.join(unknown)}: the tasks are {names}")
    tasks = [c for c in known if args.tasks is None or c.name in args.tasks]
    results: dict[tuple[str, str], list[Run]] = {}
    started = time.monotonic()
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None  # SQLite files in memory
    with tempfile.TemporaryDirectory(prefix="parzen-pruning-", dir=shm) as tmp:
        template = migrated_template(Path(tmp))
        for curves in tasks:
            for method in args.methods:
                for seed in range(args.seeds):
                    search = make_search(method, curves, seed, template, Path(tmp))
                    try:
                        run = simulate(search, curves, budget, seed)
                    finally:
                        search.close()
                    results.setdefault((curves.name, method), []).append(run)
                took = time.monotonic() - started
                print(f"  {curves.name} / {method}: done at {took:.0f} s", flush=True)
                if args.out:
                    runs = {f"{t}|{m}": [asdict(r) for r in rs] for (t, m), rs in results.items()}
                    args.out.write_text(json.dumps({"budget": budget, "runs": runs}))
    report(tasks, args.methods, results, budget)


def migrated_template(tmp: Path) -> Path:
    from parzen.service.db.migrate import upgrade

    path = tmp / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def make_search(method: str, curves: Curves, seed: int, template: Path, tmp: Path) -> Any:
    if method.startswith("parzen"):
        return ParzenSearch(template, tmp, curves, method, seed)
    return OptunaSearch(curves, method, seed)


if __name__ == "__main__":
    main()
