"""Ask and tell latency through the HTTP API, beside hyperopt's raw `tpe.suggest`.

A real server (uvicorn in a thread, `service.server.ServerThread`) over a fresh SQLite file
and a fresh PostgreSQL database serves one TPE study of a 6-parameter mixed space (log-uniform,
log-int, int, choice, a conditional choice of two sub-spaces, uniform). Its history is grown
to each level (100, 1,000, 5,000 finished trials) by bulk import (`Storage.add_trials` with
random draws and a synthetic objective), then at each level:

- one warm-up ask + tell: the server's sampler has not seen the imported trials yet, so this
  "cold" ask feeds them all to it (reported in its own column);
- N samples of: raw `tpe.suggest` on the exact history the server holds (a `TPESampler` of the
  same seed and settings, fed from the same rows), then `client.ask` and `client.tell` over
  HTTP. Raw and served proposals use the same seed, so they must be equal: the "same" column
  counts the asks (warm-up included) where they were, a check that both timed the same work.

Each told trial adds one to the history: a level's samples run at level .. level + N trials.
The last line printed is `ask_vs_raw_tpe_at_1000: <ratio>`, median ask over median raw at
1,000 trials, the worse of the databases measured (target: at most 1.3).

    python bench/ask_latency.py                 # 100, 1,000, 5,000 trials; SQLite + PostgreSQL
    python bench/ask_latency.py --quick         # 100 and 1,000 trials, fewer samples
    python bench/ask_latency.py --databases sqlite --levels 1000 --samples 50
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from hyperopt import tpe
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.algorithms import Observation, RandomSampler
from service.algorithms.base import trial_seed
from service.algorithms.tpe import TPESampler
from service.config import Settings
from service.db.engine import make_engine
from service.db.migrate import upgrade
from service.main import create_app
from service.server import ServerThread
from service.space import SearchSpace, parse_space
from service.storage import FinishedTrial, Storage
from worker.client import ParzenClient

Database = Literal["sqlite", "postgresql"]
DATABASES: tuple[Database, ...] = ("sqlite", "postgresql")
DEFAULT_LEVELS = (100, 1000, 5000)
QUICK_LEVELS = (100, 1000)
DEFAULT_SAMPLES = 30
QUICK_SAMPLES = 15
TARGET_RATIO = 1.3
TOKEN = "bench-admin-token-local"  # PARZEN_ADMIN_TOKEN needs 16 characters
STUDY = "ask-latency"
SEED = 1
DEFAULT_POSTGRES_URL = os.environ.get(
    "PARZEN_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

SPACE: dict[str, Any] = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "units": {"type": "int", "low": 16, "high": 512, "log": True},
    "layers": {"type": "int", "low": 1, "high": 6},
    "activation": {"type": "choice", "options": ["relu", "elu", "selu", "gelu"]},
    "layer": {
        "type": "choice",
        "options": [
            {
                "kind": "conv",
                "filters": {"type": "int", "low": 8, "high": 128},
                "kernel_size": {"type": "choice", "options": [3, 5, 7]},
            },
            {"kind": "dense", "width": {"type": "int", "low": 16, "high": 1024}},
        ],
    },
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
}

STUDY_BODY: dict[str, Any] = {
    "name": STUDY,
    "direction": "minimize",
    "metric": "loss",
    "space": SPACE,
    "algorithm": "tpe",
    "algorithm_settings": {},
    "seed": SEED,
    # The API caps max_parallel at 10,000; trials are told one at a time anyway.
    "budget": {"max_trials": 100_000, "max_parallel": 10_000},
}

_ACTIVATION_PENALTY = {"relu": 0.0, "elu": 0.05, "selu": 0.1, "gelu": 0.02}


def objective(params: dict[str, Any], rng: np.random.Generator) -> float:
    """A smooth synthetic validation loss with noise (minimum near lr=1e-3, 128 units...)."""
    loss = 0.5 + (math.log10(params["learning_rate"]) + 3.0) ** 2 / 4
    loss += (math.log2(params["units"]) - 7.0) ** 2 / 16 + (params["layers"] - 3) ** 2 / 25
    loss += _ACTIVATION_PENALTY[params["activation"]] + (params["dropout"] - 0.2) ** 2
    layer = params["layer"]
    if layer["kind"] == "conv":
        loss += (math.log2(layer["filters"]) - 5.0) ** 2 / 20 + 0.02 * (layer["kernel_size"] != 3)
    else:
        loss += 0.05 + (math.log2(layer["width"]) - 8.0) ** 2 / 30
    return float(loss + rng.normal(0.0, 0.03))


# Databases


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="parzen-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        yield url


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, migrated database next to the admin one, dropped at the end (also on error)."""
    name = f"parzen_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            raise SystemExit(
                f"cannot create a PostgreSQL database through {admin_url}: {exc}\n"
                "Start PostgreSQL, pass --postgres-url, or run with --databases sqlite."
            ) from exc
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_url(kind: Database, postgres_url: str) -> contextlib.AbstractContextManager[str]:
    return sqlite_database() if kind == "sqlite" else postgres_database(postgres_url)


# The bench's own view of the history


class Mirror:
    """A TPESampler of the study's seed and default settings, fed the rows the server holds.

    It reads trials back from storage in number order, so it sees the same vals and values
    the server's sampler sees (imported ones and told ones alike)."""

    def __init__(self, storage: Storage, space: SearchSpace) -> None:
        self.storage = storage
        self.sampler = TPESampler(space, seed=SEED)
        self.count = 0

    def sync(self) -> None:
        while True:
            trials, total = self.storage.list_trials(
                study_name=STUDY, offset=self.count, limit=1000
            )
            self.sampler.observe(
                Observation(t.number, t.state, t.vals, t.value if t.state == "complete" else None)
                for t in trials
            )
            self.count += len(trials)
            if not trials or self.count >= total:
                return

    def raw_suggest(self, number: int) -> float:
        """Seconds of one raw tpe.suggest for trial `number`, with the server's seed."""
        domain, trials, options = self.sampler.hyperopt_state
        seed = trial_seed(SEED, number)
        start = time.perf_counter()
        tpe.suggest([number], domain, trials, seed, **options)
        return time.perf_counter() - start


def grow(storage: Storage, space: SearchSpace, mirror: Mirror, level: int) -> None:
    """Bulk-import random finished trials until the study has `level` of them."""
    missing = level - mirror.count
    if missing <= 0:
        return
    sampler = RandomSampler(space, seed=12345)
    rng = np.random.default_rng(level)
    trials = []
    for number in range(mirror.count + 1, level + 1):
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        trials.append(FinishedTrial(vals, params, "complete", objective(params, rng)))
    storage.add_trials(study_name=STUDY, trials=trials)
    mirror.sync()


# Measuring


@dataclass
class Level:
    database: Database
    level: int
    trials: int  # finished trials when the level's first ask was made
    cold_ask: float = math.nan
    ask: list[float] = field(default_factory=list)
    tell: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    same: int = 0

    @property
    def ratio(self) -> float:
        return median(self.ask) / median(self.raw)


def median(xs: Sequence[float]) -> float:
    return float(np.median(xs)) if xs else math.nan


def p95(xs: Sequence[float]) -> float:
    return float(np.percentile(xs, 95)) if xs else math.nan


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


@dataclass(frozen=True)
class Sample:
    ask: float
    tell: float
    raw: float
    same: bool


def ask_and_tell(client: ParzenClient, mirror: Mirror, rng: np.random.Generator) -> Sample:
    number = mirror.count + 1
    raw = mirror.raw_suggest(number)
    expected = mirror.sampler.propose(number)  # untimed: the same seed and history
    ask, ask_s = timed(lambda: client.ask(STUDY))
    if ask.status != "ok" or ask.trial is None:
        raise RuntimeError(f"ask returned {ask.status}: {ask.reason}")
    trial = ask.trial
    if trial.number != number:
        raise RuntimeError(f"server proposed trial {trial.number}, expected {number}")
    value = objective(trial.params, rng)
    _, tell_s = timed(lambda: client.tell(trial.id, "complete", value))
    mirror.sync()
    served = mirror.storage.get_trial(study_name=STUDY, number=number).vals
    return Sample(ask_s, tell_s, raw, same=_same_vals(served, expected))


def _same_vals(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def run_database(
    kind: Database,
    url: str,
    levels: Sequence[int],
    samples: int,
    progress: Console,
) -> list[Level]:
    space = parse_space(SPACE)
    storage = Storage(make_engine(url))  # Storage.from_url is typed as returning StorageCore
    rng = np.random.default_rng(7)
    results: list[Level] = []
    try:
        settings = Settings(database_url=url, admin_token=TOKEN)
        app = create_app(settings, storage)
        with ServerThread(app) as server, ParzenClient(server.url, TOKEN) as client:
            client.create_study(STUDY_BODY)
            mirror = Mirror(storage, space)
            for level in levels:
                started = time.perf_counter()
                grow(storage, space, mirror, level)
                result = Level(kind, level, mirror.count)
                gc.collect()
                cold = ask_and_tell(client, mirror, rng)
                result.cold_ask, result.same = cold.ask, int(cold.same)
                for _ in range(samples):
                    sample = ask_and_tell(client, mirror, rng)
                    result.ask.append(sample.ask)
                    result.tell.append(sample.tell)
                    result.raw.append(sample.raw)
                    result.same += sample.same
                results.append(result)
                progress.print(
                    f"{kind:>10} {result.trials:>6,} trials: ask {ms(median(result.ask))} ms, "
                    f"raw {ms(median(result.raw))} ms "
                    f"({time.perf_counter() - started:.1f} s)"
                )
    finally:
        storage.close()
    return results


# Output


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def render(results: Sequence[Level], total_s: float, load: str) -> Table:
    table = Table(
        title="Parzen ask / tell latency through the HTTP API vs raw hyperopt tpe.suggest",
        caption=(
            "6-parameter mixed space; each sample tells one more trial, so a level's samples "
            "run at N .. N+samples trials. cold ask: the first ask after a bulk import. "
            "same: asks (warm-up included) whose proposal equalled raw TPE's. "
            f"Total {total_s:.0f} s; {load}."
        ),
    )
    table.add_column("database")
    for name in (
        "finished\ntrials",
        "samples",
        "ask\nmedian ms",
        "ask\np95 ms",
        "cold ask\nms",
        "tell\nmedian ms",
        "tell\np95 ms",
        "raw tpe.suggest\nmedian ms",
        "raw tpe.suggest\np95 ms",
        "ask/raw\nratio",
        "same\nproposal",
    ):
        table.add_column(name, justify="right")
    for r in results:
        ratio = r.ratio
        shown = f"{ratio:.2f}" if ratio <= TARGET_RATIO else f"[bold red]{ratio:.2f}[/]"
        table.add_row(
            r.database,
            f"{r.trials:,}",
            str(len(r.ask)),
            ms(median(r.ask)),
            ms(p95(r.ask)),
            ms(r.cold_ask),
            ms(median(r.tell)),
            ms(p95(r.tell)),
            ms(median(r.raw)),
            ms(p95(r.raw)),
            shown,
            f"{r.same}/{len(r.ask) + 1}",
        )
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="levels 100,1000 and 15 samples (unless given)"
    )
    parser.add_argument(
        "--levels", help="comma-separated finished-trial counts (default 100,1000,5000)"
    )
    parser.add_argument(
        "--samples", type=int, help=f"timed asks per level (default {DEFAULT_SAMPLES})"
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="admin database; a fresh parzen_bench_<pid> is created next to it and dropped",
    )
    args = parser.parse_args(argv)
    try:
        levels = (
            sorted({int(x) for x in args.levels.split(",") if x.strip()})
            if args.levels
            else list(QUICK_LEVELS if args.quick else DEFAULT_LEVELS)
        )
    except ValueError:
        parser.error(f"--levels must be comma-separated integers (got {args.levels!r})")
    if not levels or levels[0] < 1:
        parser.error("--levels needs at least one count >= 1")
    args.levels = levels
    args.samples = args.samples or (QUICK_SAMPLES if args.quick else DEFAULT_SAMPLES)
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    databases = [x.strip() for x in args.databases.split(",") if x.strip()]
    unknown = [x for x in databases if x not in DATABASES]
    if unknown or not databases:
        parser.error(f"--databases takes sqlite and/or postgresql (got {args.databases!r})")
    args.databases = databases
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the PostgreSQL database is dropped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress = Console(stderr=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    results: list[Level] = []
    for kind in args.databases:
        with database_url(kind, args.postgres_url) as url:
            results += run_database(kind, url, args.levels, args.samples, progress)
    total_s = time.perf_counter() - started

    console = Console(width=max(Console().width, 160))
    # Other processes on the machine skew the ratio (the served ask spans more threads and,
    # on PostgreSQL, another process): say how busy the machine was.
    load = (
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    console.print(render(results, total_s, load))
    at_1000 = [r.ratio for r in results if r.level == 1000]
    worst = max(at_1000) if at_1000 else math.nan
    if at_1000:
        verdict = "within" if worst <= TARGET_RATIO else "ABOVE"
        console.print(f"target: ask at 1,000 trials within {TARGET_RATIO}x raw: {verdict}")
    sys.stdout.flush()
    print(f"ask_vs_raw_tpe_at_1000: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
