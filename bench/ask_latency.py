"""Ask latency of the default sampler (tpe-mv): Parzen through HTTP, Parzen's sampler alone,
and Optuna 5's TPESampler in memory and on its RDB storage, on the same history.

A real server (uvicorn in a thread, `service.server.ServerThread`) over a fresh SQLite file
and a fresh PostgreSQL database serves one `tpe-mv` study of a 6-parameter mixed space
(log-uniform, log-int, int, choice, a conditional choice of two sub-spaces, uniform). Its
history is grown to each level (100, 1,000, 5,000, 10,000 finished trials) by bulk import
(`Storage.add_trials`, random draws and a synthetic objective); Optuna gets the very same
trials (bench/optuna_anchor.py), in memory and in Optuna's own tables on the same database
server (a second SQLite file in the same folder; a second database on the same PostgreSQL:
Optuna's schema has its own `alembic_version`). At each level:

- one warm-up ask + tell for each (the first ask after a bulk import catches up on it);
- N samples of: Parzen's sampler alone (a `MultivariateTPESampler` of the same seed, fed the
  rows the server holds), then `client.ask` + `client.tell` over HTTP. Both use the same seed
  and history, so they must propose the same: "same" counts the asks where they did;
- M samples of Optuna's ask with its suggestions (where its TPE runs), each told after.

Each told trial adds one to the history: a level's samples run at level .. level + N trials.
The last line is `ask_ms_at_10000_vs_optuna_inmemory: <ratio>`: Parzen's median HTTP ask at
10,000 trials (the worse database) over Optuna's median in-memory ask (goal at most 0.05).

    python bench/ask_latency.py                 # 100 .. 10,000 trials; SQLite + PostgreSQL
    python bench/ask_latency.py --quick         # 100 and 1,000 trials, fewer samples
    python bench/ask_latency.py --databases sqlite --levels 1000 --samples 20
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

if not __package__:  # run as a script: python bench/ask_latency.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import optuna_anchor
from parzen.service.algorithms import Observation, RandomSampler
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.config import Settings
from parzen.service.db.engine import make_engine
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.space import SearchSpace, parse_space
from parzen.service.storage import FinishedTrial, Storage
from parzen.worker.client import ParzenClient

Database = Literal["sqlite", "postgresql"]
DATABASES: tuple[Database, ...] = ("sqlite", "postgresql")
DEFAULT_LEVELS = (100, 1000, 5000, 10000)
QUICK_LEVELS = (100, 1000)
DEFAULT_SAMPLES = 20
QUICK_SAMPLES = 10
OPTUNA_SAMPLES = 3
HEADLINE_LEVEL = 10000
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
    "algorithm": "tpe-mv",
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
def sqlite_database() -> Iterator[tuple[str, str]]:
    """Parzen's migrated SQLite file and, in the same folder, an empty one for Optuna."""
    with tempfile.TemporaryDirectory(prefix="parzen-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        yield url, f"sqlite:///{Path(tmp) / 'optuna.db'}"


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """Parzen's migrated database and an empty one for Optuna on the same server."""
    with (
        fresh_postgres(admin_url, f"parzen_bench_{os.getpid()}", migrate=True) as url,
        fresh_postgres(admin_url, f"parzen_bench_optuna_{os.getpid()}", migrate=False) as other,
    ):
        yield url, other


@contextlib.contextmanager
def fresh_postgres(admin_url: str, name: str, *, migrate: bool) -> Iterator[str]:
    """A fresh database next to the admin one, dropped at the end (also on error)."""
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
            if migrate:
                upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_urls(
    kind: Database, postgres_url: str
) -> contextlib.AbstractContextManager[tuple[str, str]]:
    return sqlite_database() if kind == "sqlite" else postgres_database(postgres_url)


# The bench's own view of the history


class Mirror:
    """A MultivariateTPESampler of the study's seed and default settings, fed the rows the
    server holds, in number order (imported and told trials alike), and those rows' params
    and values for Optuna."""

    def __init__(self, storage: Storage, space: SearchSpace) -> None:
        self.storage = storage
        self.sampler = MultivariateTPESampler(space, seed=SEED)
        self.count = 0
        self.history: list[tuple[dict[str, Any], float]] = []  # complete: params, value

    def sync(self) -> None:
        while True:
            trials, total = self.storage.list_trials(
                study_name=STUDY, offset=self.count, limit=1000
            )
            self.sampler.observe(
                Observation(t.number, t.state, t.vals, t.value if t.state == "complete" else None)
                for t in trials
            )
            self.history += [
                (t.params, t.value) for t in trials if t.state == "complete" and t.value
            ]
            self.count += len(trials)
            if not trials or self.count >= total:
                return


def random_trials(
    space: SearchSpace,
    numbers: Iterable[int],
    *,
    rng: np.random.Generator,
    seed: int = 12345,
    state: Literal["complete", "pruned"] = "complete",
) -> list[FinishedTrial]:
    """Finished trials of random draws (the draw for each trial number) and the synthetic
    objective's value: the history the benches import."""
    sampler = RandomSampler(space, seed=seed)
    trials = []
    for number in numbers:
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        trials.append(FinishedTrial(vals, params, state, objective(params, rng)))
    return trials


def grow(storage: Storage, space: SearchSpace, mirror: Mirror, level: int) -> None:
    """Bulk-import random finished trials until the study has `level` of them."""
    missing = level - mirror.count
    if missing <= 0:
        return
    numbers = range(mirror.count + 1, level + 1)
    trials = random_trials(space, numbers, rng=np.random.default_rng(level))
    storage.add_trials(study_name=STUDY, trials=trials)
    optuna_anchor.analyze(storage.engine, ("trials",))  # as autovacuum would, in a minute
    mirror.sync()


# Measuring


@dataclass
class Level:
    database: Database
    level: int
    trials: int  # finished trials when the level's first ask was made
    cold_ask: float = math.nan
    ask: list[float] = field(default_factory=list)
    sampler: list[float] = field(default_factory=list)
    tell: list[float] = field(default_factory=list)
    same: int = 0
    optuna_memory: list[float] = field(default_factory=list)
    optuna_rdb: list[float] = field(default_factory=list)

    @property
    def overhead(self) -> list[float]:
        return [a - s for a, s in zip(self.ask, self.sampler, strict=True)]


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
    sampler: float
    same: bool


def ask_and_tell(client: ParzenClient, mirror: Mirror, rng: np.random.Generator) -> Sample:
    number = mirror.count + 1
    gc.collect()
    expected, sampler_s = timed(lambda: mirror.sampler.propose(number))
    ask, ask_s = timed(lambda: client.ask(STUDY))
    if ask.status != "ok" or ask.trial is None:
        raise RuntimeError(f"ask returned {ask.status}: {ask.reason}")
    trial = ask.trial
    if trial.number != number:
        raise RuntimeError(f"server proposed trial {trial.number}, expected {number}")
    value = objective(trial.params, rng)
    _, tell_s = timed(
        lambda: client.tell(trial.id, "complete", value, lease_token=trial.lease_token)
    )
    mirror.sync()
    served = mirror.storage.get_trial(study_name=STUDY, number=number).vals
    return Sample(ask_s, tell_s, sampler_s, same=_same_vals(served, expected))


def _same_vals(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def optuna_asks(study: Any, samples: int, rng: np.random.Generator) -> list[float]:
    """One warm-up ask (Optuna's storage catches up on the bulk load), then `samples`."""
    asks = [optuna_anchor.timed_ask(study, lambda p: objective(p, rng)) for _ in range(samples + 1)]
    return asks[1:]


def run_database(
    kind: Database,
    urls: tuple[str, str],
    levels: Sequence[int],
    samples: int,
    optuna_samples: int,
    in_memory: bool,
    progress: Console,
) -> list[Level]:
    url, optuna_url = urls
    space = parse_space(SPACE)
    storage = Storage(make_engine(url))  # Storage.from_url is typed as returning StorageCore
    rng = np.random.default_rng(7)
    results: list[Level] = []
    optuna_anchor.rdb_study(optuna_url, STUDY)
    loaded = 0
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
                cold = ask_and_tell(client, mirror, rng)
                result.cold_ask, result.same = cold.ask, int(cold.same)
                for _ in range(samples):
                    sample = ask_and_tell(client, mirror, rng)
                    result.ask.append(sample.ask)
                    result.tell.append(sample.tell)
                    result.sampler.append(sample.sampler)
                    result.same += sample.same
                if optuna_samples:
                    optuna_anchor.bulk_load(optuna_url, STUDY, mirror.history[loaded:])
                    loaded = len(mirror.history)
                    study = optuna_anchor.load_rdb(optuna_url, STUDY, SEED)
                    result.optuna_rdb = optuna_asks(study, optuna_samples, rng)
                    if in_memory:
                        study = optuna_anchor.in_memory_study(mirror.history, SEED)
                        result.optuna_memory = optuna_asks(study, optuna_samples, rng)
                results.append(result)
                progress.print(
                    f"{kind:>10} {result.trials:>6,} trials: ask {ms(median(result.ask))} ms, "
                    f"sampler {ms(median(result.sampler))} ms, Optuna in memory "
                    f"{ms(median(result.optuna_memory))} ms, on {kind} "
                    f"{ms(median(result.optuna_rdb))} ms ({time.perf_counter() - started:.1f} s)"
                )
    finally:
        storage.close()
    return results


# Output


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def render(results: Sequence[Level], total_s: float, load: str) -> Table:
    table = Table(
        title="Parzen ask (tpe-mv) through HTTP and alone vs Optuna 5's TPESampler ask",
        caption=(
            "6-parameter mixed space, same history; each sample tells one more trial, so a "
            "level's samples run at N .. N+samples trials. HTTP - sampler: median of the "
            "per-ask differences. Optuna: ask + suggestions, in memory and on its RDB storage "
            "on the same database server. same: asks (warm-up included) whose proposal "
            f"equalled the sampler's alone. Total {total_s:.0f} s; {load}."
        ),
    )
    table.add_column("database")
    for name in (
        "finished\ntrials",
        "samples",
        "HTTP ask\nmedian ms",
        "HTTP ask\np95 ms",
        "cold ask\nms",
        "sampler\nalone ms",
        "HTTP -\nsampler ms",
        "tell\nmedian ms",
        "Optuna\nin memory ms",
        "Optuna\nRDB ms",
        "ask / Optuna\nin memory",
        "same\nproposal",
    ):
        table.add_column(name, justify="right")
    memory = {r.level: r.optuna_memory for r in results if r.optuna_memory}
    for r in results:
        anchor = median(memory.get(r.level, []))
        table.add_row(
            r.database,
            f"{r.trials:,}",
            str(len(r.ask)),
            ms(median(r.ask)),
            ms(p95(r.ask)),
            ms(r.cold_ask),
            ms(median(r.sampler)),
            ms(median(r.overhead)),
            ms(median(r.tell)),
            ms(median(r.optuna_memory)),
            ms(median(r.optuna_rdb)),
            f"{median(r.ask) / anchor:.3f}" if not math.isnan(anchor) else "-",
            f"{r.same}/{len(r.ask) + 1}",
        )
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="levels 100,1000 and 10 samples (unless given)"
    )
    parser.add_argument(
        "--levels", help="comma-separated finished-trial counts (default 100,1000,5000,10000)"
    )
    parser.add_argument(
        "--samples", type=int, help=f"timed Parzen asks per level (default {DEFAULT_SAMPLES})"
    )
    parser.add_argument(
        "--optuna-samples",
        type=int,
        default=OPTUNA_SAMPLES,
        help=f"timed Optuna asks per level and storage (default {OPTUNA_SAMPLES}; 0: none)",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="admin database; fresh parzen_bench_<pid> databases are created next to it",
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
    if args.samples < 1 or args.optuna_samples < 0:
        parser.error("--samples must be >= 1 and --optuna-samples >= 0")
    databases = [x.strip() for x in args.databases.split(",") if x.strip()]
    unknown = [x for x in databases if x not in DATABASES]
    if unknown or not databases:
        parser.error(f"--databases takes sqlite and/or postgresql (got {args.databases!r})")
    args.databases = databases
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the PostgreSQL databases are dropped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress = Console(stderr=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    results: list[Level] = []
    for k, kind in enumerate(args.databases):
        with database_urls(kind, args.postgres_url) as urls:
            results += run_database(
                kind, urls, args.levels, args.samples, args.optuna_samples, k == 0, progress
            )
    total_s = time.perf_counter() - started

    console = Console(width=max(Console().width, 180))
    load = (
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    console.print(render(results, total_s, load))
    top = max(args.levels) if HEADLINE_LEVEL not in args.levels else HEADLINE_LEVEL
    anchor = median([x for r in results if r.level == top for x in r.optuna_memory])
    worst = max((median(r.ask) for r in results if r.level == top), default=math.nan)
    sys.stdout.flush()
    label = f"ask_ms_at_{top}_vs_optuna_inmemory"
    print(f"{label}: {worst / anchor:.3f}" if not math.isnan(anchor) else f"{label}: nan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
