"""Search quality: Parzen's proposals against Optuna, hyperopt and random search.

Every optimizer minimizes the same objectives (bench/objectives.py: the `classic` eight,
Branin, Hartmann6, Rosenbrock-5d, a conditional space and HPOLib's four tabular benchmarks
of real network training; the `broad` eight, Styblinski-Tang 10-d, a space of grids and
categories, a conditional Keras-like space, three HPOBench tables and two of NAS-Bench-201)
with the same budgets, in the same run. Each method draws its proposals from its own seed
(derived from the run's seed and the method's spec), so no two start from the same points;
the objective's noise and the evaluation durations come from the run's seed, the same for
every method, so that results are paired:

- parzen-tpe, parzen-tpe-mv: Parzen's algorithms through its own HTTP API (ask / tell) against
  a real server (uvicorn in a thread) on SQLite; one server per process, one study per run;
- optuna: `optuna.samplers.TPESampler(seed=...)` with its current defaults (in Optuna 5 that
  is the multivariate TPE with constant_liar=True), asked define-by-run (the branch is a
  categorical, then its own parameters);
- hyperopt: `fmin(algo=tpe.suggest)` with its defaults for 1 worker; for more workers fmin has
  no asynchronous mode, so its `tpe.suggest` is driven directly with the pending trials in
  its Trials (hyperopt gives them an infinite loss, the same constant liar Parzen uses);
- random: independent draws from the prior (Parzen's RandomSampler, in process).

With --in-process, Parzen's algorithms run in process too (the same proposals as through
the server, which feeds its samplers the same trials): for tuning them on many seeds.

Workers are simulated, event-driven: each evaluation takes a random duration (log-normal, the
same sequence for every method), k evaluations run at once, and the next trial is asked as soon
as one finishes, so k - 1 trials are pending at every ask and they finish out of order.
Simple regret after N evaluations: the noise-free value of the incumbent (the best observed
value so far) minus the objective's minimum. Ranks are taken per objective, budget, worker
count and seed (ties share their mean rank) and averaged; they are shown, but they are not
the measure (a rank among five moves with how the other three are correlated).

The measure is head to head: for the reference (Parzen's default, parzen-tpe-mv, or
--reference) against each other method, the sign of the regret difference (-1: the
reference better, 0: tied, +1: worse), averaged over a run's budgets, then over the runs
(objective x worker count x seed), with its standard error over the runs. The best other
method is the one that is not Parzen's against which the reference fares worst. The last
line printed is `parzen_head_to_head_vs_best_other: <mean sign> (se <standard error>)`:
negative means Parzen is better.

Seeds 0-9 are the reporting seeds (the README's tables); changes are tuned on seeds 10 and
up (--first-seed 10), never on the reporting seeds.

    python bench/search_quality.py                      # the full matrix (see --help)
    python bench/search_quality.py --quick              # 3 seeds, budget 50, 1 and 4 workers
    python bench/search_quality.py --objectives branin,naval --methods parzen-tpe optuna \\
        --workers 1 --budgets 100 --seeds 5
    python bench/search_quality.py --methods parzen-tpe parzen-tpe:gamma=0.1 # settings
    python bench/search_quality.py --objectives broad --methods parzen-tpe-mv \
        parzen-tpe-mv+ties optuna --reference parzen-tpe-mv+ties  # a variant (variants.py)
    python bench/search_quality.py --in-process --first-seed 10 --seeds 20  # tuning seeds
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script: python bench/search_quality.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import variants
from bench.objectives import (
    GROUPS,
    OBJECTIVES,
    Objective,
    get_objective,
    hyperopt_space,
    suggest_optuna,
)

DEFAULT_METHODS = ("parzen-tpe", "parzen-tpe-mv", "optuna", "hyperopt", "random")
DEFAULT_WORKERS = (1, 4, 16)
DEFAULT_BUDGETS = (100, 200)
DEFAULT_SEEDS = 10
QUICK_WORKERS = (1, 4)
QUICK_BUDGETS = (50,)
QUICK_SEEDS = 3
TOKEN = "bench-admin-token-local"  # PARZEN_ADMIN_TOKEN needs 16 characters


# -- optimizers ------------------------------------------------------------------------------


class Optimizer(Protocol):
    def ask(self) -> tuple[Any, dict[str, Any]]: ...

    def tell(self, handle: Any, value: float) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Method:
    """A method name and, for Parzen's algorithms, settings: `parzen-tpe:gamma=0.1`, and
    the benchmark's own variants of the sampler (bench/variants.py): `parzen-tpe-mv+ties`."""

    spec: str

    @property
    def name(self) -> str:
        return self.spec.split(":")[0]

    @property
    def parzen(self) -> bool:
        return self.name.startswith("parzen-")

    @property
    def algorithm(self) -> str:
        return self.name.split("+")[0].removeprefix("parzen-")

    @property
    def variants(self) -> list[str]:
        return self.name.split("+")[1:]

    @property
    def settings(self) -> dict[str, float | bool]:
        pairs = [item.split("=", 1) for item in self.spec.split(":")[1:]]
        flags = {"true": True, "false": False}
        return {
            key: flags[value.lower()] if value.lower() in flags else float(value)
            for key, value in pairs
        }


class ParzenOptimizer:
    """One study on the process's server: every proposal crosses HTTP, SQL and the sampler."""

    def __init__(
        self, client: Any, method: Method, space: Mapping[str, Any], seed: int, run: RunSpec
    ) -> None:
        self.client = client
        self.name = f"q{os.getpid()}-{next(_STUDY_NUMBERS)}"
        client.create_study(
            {
                "name": self.name,
                "direction": "minimize",
                "metric": "loss",
                "space": dict(space),
                "algorithm": method.algorithm,
                "algorithm_settings": method.settings,
                "seed": seed,
                "budget": {"max_trials": run.budget, "max_parallel": run.workers},
                "lease_seconds": 86_400,
            }
        )

    def ask(self) -> tuple[Any, dict[str, Any]]:
        answer = self.client.ask(self.name)
        if answer.trial is None:
            raise RuntimeError(f"ask answered {answer.status}: {answer.reason}")
        return answer.trial, answer.trial.params

    def tell(self, handle: Any, value: float) -> None:
        self.client.tell(handle.id, "complete", value, lease_token=handle.lease_token)

    def close(self) -> None:
        self.client.delete_study(self.name)


_STUDY_NUMBERS = itertools.count(1)


class OptunaOptimizer:
    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        return trial, suggest_optuna(trial, self.space)

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)

    def close(self) -> None:
        pass


class HyperoptOptimizer:
    """tpe.suggest with its defaults, asked with the pending trials in its Trials."""

    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        from hyperopt import Domain, Trials

        self.raw_space = space
        self.expression = hyperopt_space(space)
        self.domain = Domain(lambda params: 0.0, self.expression)
        self.trials = Trials()
        self.rng = np.random.default_rng(seed)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        from hyperopt import JOB_STATE_RUNNING, space_eval, tpe

        [tid] = self.trials.new_trial_ids(1)
        seed = int(self.rng.integers(2**31 - 1))
        [doc] = tpe.suggest([tid], self.domain, self.trials, seed)
        doc["state"] = JOB_STATE_RUNNING
        self.trials.insert_trial_docs([doc])
        self.trials.refresh()
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        return tid, clip_ints(self.raw_space, space_eval(self.expression, vals))

    def tell(self, handle: Any, value: float) -> None:
        from hyperopt import JOB_STATE_DONE

        for doc in self.trials._dynamic_trials:
            if doc["tid"] == handle:
                doc["state"] = JOB_STATE_DONE
                doc["result"] = {"status": "ok", "loss": value}
        self.trials.refresh()

    def close(self) -> None:
        pass


def clip_ints(space: Mapping[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """hyperopt's quniform may round to one step past a bound: bring ints back inside."""
    for name, node in space.items():
        if isinstance(node, Mapping) and node.get("type") == "int":
            params[name] = int(min(max(round(params[name]), node["low"]), node["high"]))
        elif isinstance(node, Mapping) and node.get("type") == "choice":
            for option in node["options"]:
                if isinstance(option, Mapping) and isinstance(params[name], dict):
                    tag = {k: option.get(k) for k in ("name", "kind", "type")}
                    if all(params[name].get(k) == v for k, v in tag.items() if v is not None):
                        clip_ints(option, params[name])
    return params


class SamplerOptimizer:
    """A Parzen sampler in process: the proposals the server would serve (it feeds the
    sampler the same running and finished trials), without HTTP and SQL. Random search,
    and Parzen's algorithms under --in-process (20x faster, for tuning them)."""

    def __init__(self, method: Method, space: Mapping[str, Any], seed: int) -> None:
        from parzen.service.algorithms import make_sampler
        from parzen.service.space import parse_space

        self.space = parse_space(space)
        self.sampler = make_sampler(method.algorithm, method.settings, self.space, seed)
        self.vals: dict[int, dict[str, float | int]] = {}

    def ask(self) -> tuple[Any, dict[str, Any]]:
        from parzen.service.algorithms import Observation

        number = len(self.vals) + 1
        vals = self.vals[number] = self.sampler.propose(number)
        self.sampler.observe([Observation(number, "running", vals, None)])
        return number, self.space.params_from_vals(vals)

    def tell(self, handle: Any, value: float) -> None:
        from parzen.service.algorithms import Observation

        self.sampler.observe([Observation(handle, "complete", self.vals[handle], value)])

    def close(self) -> None:
        pass


# -- one run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    objective: str
    method: str  # a Method spec
    workers: int
    seed: int
    budget: int  # the largest budget: smaller ones are read off the same run


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    regret: tuple[float, ...]  # after each evaluation, in the order they finished
    seconds: float


def simulate(opt: Optimizer, objective: Objective, run: RunSpec) -> list[float]:
    """Event-driven workers: k evaluations in flight, each asked when one finishes."""
    durations = np.random.default_rng([run.seed, 1]).lognormal(0.0, 0.5, size=run.budget)
    pending: list[tuple[float, int, Any, dict[str, Any]]] = []
    asked, clock, regrets, best = 0, 0.0, [], (math.inf, math.inf)

    def ask() -> None:
        nonlocal asked
        handle, params = opt.ask()
        heapq.heappush(pending, (clock + durations[asked], asked, handle, params))
        asked += 1

    while asked < min(run.workers, run.budget):
        ask()
    while pending:
        clock, index, handle, params = heapq.heappop(pending)
        value = objective.evaluate(params, np.random.default_rng([run.seed, 2, index]))
        opt.tell(handle, value)
        if value < best[0]:
            best = (value, objective.true_value(params))
        regrets.append(best[1] - objective.optimum)
        if asked < run.budget:
            ask()
    return regrets


def method_seed(run: RunSpec) -> int:
    """The method's own seed for the run: every method (and every variant) draws its own
    startup points. Sharing the run's seed gave Parzen's methods and random search the same
    first 10-17 proposals, correlated ranks that favoured Parzen (issue 18). The objective's
    noise and the evaluation durations stay on the run's seed: the same for every method,
    so that differences are paired."""
    entropy = [run.seed, zlib.crc32(run.method.encode())]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] % 2**31)


def hyperopt_fmin(objective: Objective, run: RunSpec) -> list[float]:
    """One worker: hyperopt's own loop, fmin(algo=tpe.suggest) with its defaults."""
    from hyperopt import Trials, fmin, tpe

    regrets: list[float] = []
    best = (math.inf, math.inf)
    index = itertools.count()

    def evaluate(params: dict[str, Any]) -> float:
        nonlocal best
        params = clip_ints(objective.space, params)
        value = objective.evaluate(params, np.random.default_rng([run.seed, 2, next(index)]))
        if value < best[0]:
            best = (value, objective.true_value(params))
        regrets.append(best[1] - objective.optimum)
        return value

    fmin(
        evaluate,
        hyperopt_space(objective.space),
        algo=tpe.suggest,
        max_evals=run.budget,
        trials=Trials(),
        rstate=np.random.default_rng(method_seed(run)),
        show_progressbar=False,
    )
    return regrets


_CLIENT: Any = None


def _start_server(folder: str, in_process: bool) -> None:
    """Pool initializer: one server per process, on its own SQLite file (none in process)."""
    global _CLIENT
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    if in_process:
        return
    from parzen.service.config import Settings
    from parzen.service.db.migrate import upgrade
    from parzen.service.main import create_app
    from parzen.service.server import ServerThread
    from parzen.worker.client import ParzenClient

    url = f"sqlite:///{Path(folder) / f'parzen-{os.getpid()}.db'}"
    upgrade(url)
    server = ServerThread(create_app(Settings(database_url=url, admin_token=TOKEN))).start()
    _CLIENT = ParzenClient(server.url, TOKEN)


def run_one(run: RunSpec) -> RunResult:
    started = time.perf_counter()
    objective = get_objective(run.objective)
    method = Method(run.method)
    if method.name == "hyperopt" and run.workers == 1:
        regrets = hyperopt_fmin(objective, run)
    else:
        with variants.applied(method.variants):
            opt = make_optimizer(method, objective, run)
            try:
                regrets = simulate(opt, objective, run)
            finally:
                opt.close()
    return RunResult(run, tuple(regrets), time.perf_counter() - started)


def make_optimizer(method: Method, objective: Objective, run: RunSpec) -> Optimizer:
    seed = method_seed(run)
    if method.parzen and _CLIENT is not None:
        return ParzenOptimizer(_CLIENT, method, objective.space, seed, run)
    if method.parzen or method.name == "random":
        return SamplerOptimizer(method, objective.space, seed)
    if method.name == "optuna":
        return OptunaOptimizer(objective.space, seed)
    if method.name == "hyperopt":
        return HyperoptOptimizer(objective.space, seed)
    raise ValueError(f"unknown method {method.spec!r}")


def run_all(
    runs: Sequence[RunSpec], processes: int, progress: Console, *, in_process: bool = False
) -> list[RunResult]:
    # SQLite on tmpfs where there is one: the bench measures proposals, not fsync.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    folder = tempfile.mkdtemp(prefix="parzen-quality-", dir=shm)
    results: list[RunResult] = []
    started = time.perf_counter()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(
            processes, initializer=_start_server, initargs=(folder, in_process)
        ) as pool:
            for result in pool.imap_unordered(run_one, runs):
                results.append(result)
                if len(results) % max(1, len(runs) // 20) == 0 or len(results) == len(runs):
                    progress.print(
                        f"{len(results)}/{len(runs)} runs, {time.perf_counter() - started:.0f} s"
                    )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


# -- tables -----------------------------------------------------------------------------------


def ranks(values: Sequence[float]) -> list[float]:
    """1 = lowest; ties share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


@dataclass
class Summary:
    methods: list[str]
    # (objective, workers, budget) -> method -> regrets over seeds
    regret: dict[tuple[str, int, int], dict[str, list[float]]]
    # (objective, workers, budget) -> method -> ranks over seeds
    rank: dict[tuple[str, int, int], dict[str, list[float]]]
    # (objective, workers, seed): one run of each method -> method -> ranks over budgets
    run_ranks: dict[tuple[str, int, int], dict[str, list[float]]]
    # (objective, workers, seed) -> method -> regrets over budgets (in the budgets' order)
    run_regrets: dict[tuple[str, int, int], dict[str, list[float]]]

    def head_to_head(self, a: str, b: str, **where: Any) -> tuple[float, float, int]:
        """Mean sign of a's regret minus b's (-1: a better, +1: b better), its standard
        error over the runs, and their count. Both methods ran on the same objective, worker
        count and seed (the same noise and durations, their own proposals); a run's budgets
        are read off one trajectory, so they are averaged first, not counted apart."""
        keys = ("objective", "workers", "seed")
        per_run = [
            float(np.mean(np.sign(np.subtract(r[a], r[b]))))
            for run, r in self.run_regrets.items()
            if r.get(a) and r.get(b) and all(run[keys.index(k)] == v for k, v in where.items())
        ]
        if not per_run:
            return math.nan, math.nan, 0
        if len(per_run) < 2:
            return per_run[0], math.nan, 1
        error = float(np.std(per_run, ddof=1) / math.sqrt(len(per_run)))
        return float(np.mean(per_run)), error, len(per_run)

    def rank_difference(self, a: str, b: str) -> tuple[float, float]:
        """Mean of a's rank minus b's, and its standard error over runs (a run's budgets
        are read off one trajectory, so they are averaged first, not counted apart)."""
        per_run = [
            float(np.mean(r[a]) - np.mean(r[b]))
            for r in self.run_ranks.values()
            if r.get(a) and r.get(b)
        ]
        if len(per_run) < 2:
            return math.nan, math.nan
        return float(np.mean(per_run)), float(np.std(per_run, ddof=1) / math.sqrt(len(per_run)))


def summarize(
    results: Sequence[RunResult], budgets: Sequence[int], methods: Sequence[str]
) -> Summary:
    methods = [m for m in methods if any(r.spec.method == m for r in results)]
    by_cell: dict[tuple[str, int, int, int], dict[str, float]] = defaultdict(dict)
    for r in results:
        for budget in budgets:
            cell = (r.spec.objective, r.spec.workers, budget, r.spec.seed)
            by_cell[cell][r.spec.method] = r.regret[min(budget, len(r.regret)) - 1]
    regret: dict[tuple[str, int, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    rank: dict[tuple[str, int, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    run_ranks: dict[tuple[str, int, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    run_regrets: dict[tuple[str, int, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (objective, workers, budget, seed), values in sorted(by_cell.items()):
        present = [m for m in methods if m in values]
        for method, place in zip(present, ranks([values[m] for m in present]), strict=True):
            regret[objective, workers, budget][method].append(values[method])
            rank[objective, workers, budget][method].append(place)
            run_ranks[objective, workers, seed][method].append(place)
            run_regrets[objective, workers, seed][method].append(values[method])
    return Summary(methods, regret, rank, run_ranks, run_regrets)


def reference_method(methods: Sequence[str], reference: str | None) -> str | None:
    """The Parzen method the head-to-head lines are about: --reference, else Parzen's
    default (parzen-tpe-mv) when it ran, else the first Parzen method."""
    if reference is not None:
        return reference if reference in methods else None
    parzen = [m for m in methods if Method(m).parzen]
    return "parzen-tpe-mv" if "parzen-tpe-mv" in parzen else (parzen[0] if parzen else None)


def best_other(summary: Summary, reference: str) -> str | None:
    """The method that is not Parzen's against which the reference fares worst."""
    others = [m for m in summary.methods if not Method(m).parzen]
    scores = {m: summary.head_to_head(reference, m)[0] for m in others}
    finite = {m: x for m, x in scores.items() if not math.isnan(x)}
    return max(finite, key=lambda m: finite[m]) if finite else None


def _signed(x: float, error: float) -> str:
    return "-" if math.isnan(x) else f"{x:+.3f} ({error:.3f})"


def head_to_head_table(summary: Summary, reference: str, workers: Sequence[int]) -> Table:
    table = Table(
        title=f"Head to head: {reference} against each method, mean sign of the regret "
        "difference (standard error over seeds); negative: {reference} better".replace(
            "{reference}", reference
        ),
        caption="paired over objective, worker count and seed; the budgets averaged per run",
    )
    table.add_column("against")
    for k in workers:
        table.add_column(f"{k} worker(s)", justify="right")
    table.add_column("all", justify="right")
    table.add_column("runs", justify="right")
    for other in summary.methods:
        if other == reference:
            continue
        cells = [_signed(*summary.head_to_head(reference, other, workers=k)[:2]) for k in workers]
        x, error, n = summary.head_to_head(reference, other)
        table.add_row(other, *cells, _signed(x, error), str(n))
    return table


def objective_table(
    summary: Summary, reference: str, other: str, objectives: Sequence[str]
) -> Table:
    table = Table(
        title=f"Head to head by objective: {reference} against {other} (all worker counts)"
    )
    table.add_column("objective")
    table.add_column("mean sign (se)", justify="right")
    for objective in objectives:
        x, error, _ = summary.head_to_head(reference, other, objective=objective)
        table.add_row(objective, _signed(x, error))
    return table


def mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if xs else math.nan


def average_rank(summary: Summary, method: str, **where: Any) -> float:
    keys = ("objective", "workers", "budget")
    return mean(
        [
            r
            for cell, per_method in summary.rank.items()
            if all(cell[keys.index(k)] == v for k, v in where.items())
            for r in per_method.get(method, [])
        ]
    )


def _style_best(cells: list[str], values: list[float]) -> list[str]:
    finite = [v for v in values if not math.isnan(v)]
    best = min(finite) if finite else math.nan
    return [f"[bold]{c}[/]" if v == best else c for c, v in zip(cells, values, strict=True)]


def regret_table(summary: Summary, workers: int, budget: int, seeds: int) -> Table:
    table = Table(
        title=f"Mean simple regret (average rank) - {budget} evaluations, {workers} worker(s)",
        caption=f"{seeds} seeds; rank 1 = best of the run's methods on that seed",
    )
    table.add_column("objective")
    for method in summary.methods:
        table.add_column(method, justify="right")
    objectives = sorted({c[0] for c in summary.rank if c[1:] == (workers, budget)}, key=_order)
    for objective in objectives:
        cell = (objective, workers, budget)
        regrets = [mean(summary.regret[cell].get(m, [])) for m in summary.methods]
        rks = [mean(summary.rank[cell].get(m, [])) for m in summary.methods]
        texts = [f"{g:.3g} ({k:.2f})" for g, k in zip(regrets, rks, strict=True)]
        table.add_row(objective, *_style_best(texts, rks))
    overall = [average_rank(summary, m, workers=workers, budget=budget) for m in summary.methods]
    table.add_row("average rank", *_style_best([f"{x:.2f}" for x in overall], overall))
    return table


def _order(objective: str) -> int:
    return OBJECTIVES.index(objective) if objective in OBJECTIVES else len(OBJECTIVES)


def rank_table(summary: Summary, workers: Sequence[int], budgets: Sequence[int]) -> Table:
    table = Table(title="Average rank (lower is better) per worker count and budget")
    table.add_column("workers")
    table.add_column("budget", justify="right")
    for method in summary.methods:
        table.add_column(method, justify="right")
    rows = [(k, b) for k in workers for b in budgets] + [(None, None)]
    for k, b in rows:
        where = {} if k is None else {"workers": k, "budget": b}
        values = [average_rank(summary, m, **where) for m in summary.methods]
        label = ("all", "all") if k is None else (str(k), str(b))
        table.add_row(*label, *_style_best([f"{x:.2f}" for x in values], values))
    return table


def parallel_table(summary: Summary, workers: Sequence[int], budgets: Sequence[int]) -> Table:
    """What parallelism costs: regret relative to random search's, geometric mean."""
    table = Table(
        title="Regret relative to random search (geometric mean over objectives; lower is better)",
        caption="random search's regret at the same objective, budget and worker count = 1.00",
    )
    table.add_column("budget", justify="right")
    table.add_column("method")
    for k in workers:
        table.add_column(f"{k} worker(s)", justify="right")
    for budget in budgets:
        for method in summary.methods:
            cells = []
            for k in workers:
                ratios = []
                for cell, per_method in summary.regret.items():
                    if cell[1:] != (k, budget) or method not in per_method:
                        continue
                    base = mean(per_method.get("random", [])) or math.nan
                    ratios.append(max(mean(per_method[method]), 1e-12) / max(base, 1e-12))
                finite = [x for x in ratios if math.isfinite(x)]
                cells.append(f"{math.exp(np.mean(np.log(finite))):.3f}" if finite else "-")
            table.add_row(str(budget), method, *cells)
    return table


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 seeds, budget 50, 1 and 4 workers")
    parser.add_argument(
        "--objectives",
        default="all",
        help=f"comma-separated objectives or groups ({', '.join(GROUPS)}; default all)",
    )
    parser.add_argument(
        "--reference",
        help="the Parzen method of the head-to-head lines (default parzen-tpe-mv)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        help="parzen-<algorithm>[:setting=value...], optuna, hyperopt, random",
    )
    parser.add_argument("--workers", help="comma-separated simulated worker counts (1,4,16)")
    parser.add_argument("--budgets", help="comma-separated evaluation budgets (100,200)")
    parser.add_argument("--seeds", type=int, help=f"seeds per cell ({DEFAULT_SEEDS})")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (2)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="Parzen's samplers called directly, not through the server (same proposals)",
    )
    args = parser.parse_args(argv)

    def ints(text: str | None, quick: Sequence[int], full: Sequence[int]) -> list[int]:
        if text is None:
            return list(quick if args.quick else full)
        return sorted({int(x) for x in text.split(",") if x.strip()})

    names = [x.strip() for x in args.objectives.split(",") if x.strip()]
    args.objectives = list(dict.fromkeys(o for x in names for o in GROUPS.get(x, (x,))))
    unknown = [x for x in args.objectives if x not in OBJECTIVES]
    if unknown:
        parser.error(f"unknown objectives {unknown}; expected some of {', '.join(OBJECTIVES)}")
    args.workers = ints(args.workers, QUICK_WORKERS, DEFAULT_WORKERS)
    args.budgets = ints(args.budgets, QUICK_BUDGETS, DEFAULT_BUDGETS)
    args.seeds = args.seeds or (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    if args.reference is not None and args.reference not in args.methods:
        parser.error(f"--reference {args.reference} is not one of --methods")
    unknown_variants = [
        v for m in args.methods for v in Method(m).variants if v not in variants.VARIANTS
    ]
    if unknown_variants:
        parser.error(f"unknown variants {unknown_variants}; known: {', '.join(variants.VARIANTS)}")
    return args


def plan(args: argparse.Namespace) -> list[RunSpec]:
    budget = max(args.budgets)
    runs = [
        RunSpec(objective, method, workers, seed, budget)
        for objective in args.objectives
        for workers in args.workers
        for seed in range(args.first_seed, args.first_seed + args.seeds)
        for method in args.methods
    ]
    # The slow ones first, so that the two processes finish together.
    cost = {"random": 0, "hyperopt": 1}
    return sorted(runs, key=lambda r: -cost.get(Method(r.method).name, 2))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Console(stderr=True)
    started = time.perf_counter()
    results = run_all(plan(args), args.processes, progress, in_process=args.in_process)
    total_s = time.perf_counter() - started
    summary = summarize(results, args.budgets, args.methods)

    console = Console(width=max(Console().width, 160))
    for workers in args.workers:
        for budget in args.budgets:
            console.print(regret_table(summary, workers, budget, args.seeds))
    console.print(rank_table(summary, args.workers, args.budgets))
    if len(args.workers) > 1 and "random" in summary.methods:
        console.print(parallel_table(summary, args.workers, args.budgets))
    per_method: defaultdict[str, float] = defaultdict(float)
    for r in results:
        per_method[r.spec.method] += r.seconds
    console.print(
        f"{len(results)} runs in {total_s:.0f} s on {args.processes} process(es); CPU seconds "
        "per method: " + ", ".join(f"{m} {s:.0f}" for m, s in per_method.items())
    )
    reference = reference_method(summary.methods, args.reference)
    difference, error = math.nan, math.nan
    if reference is not None:
        console.print(head_to_head_table(summary, reference, args.workers))
        other = best_other(summary, reference)
        if other is not None:
            console.print(objective_table(summary, reference, other, args.objectives))
            difference, error, n = summary.head_to_head(reference, other)
            console.print(
                f"{reference} against the best other method, {other}: {difference:+.3f} "
                f"(standard error {error:.3f}, {n} runs); seeds {args.first_seed}-"
                f"{args.first_seed + args.seeds - 1}"
            )
    sys.stdout.flush()
    print(f"parzen_head_to_head_vs_best_other: {difference:.3f} (se {error:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
