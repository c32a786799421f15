"""Load: N simulated workers against `parzen server --workers K` on PostgreSQL, beside the
same loop through Optuna's RDB storage on the same PostgreSQL.

The server runs as real processes (`python -m cli.main server --workers K`) on a database
of its own; the load generator is another process (`--generate`), N threads each with its
own `ParzenClient`. The generator runs these phases, and reads the server processes' CPU
time (psutil, the uvicorn master and its workers) around each:

- loop: for `--seconds`, every worker asks, reports `--epochs` epochs, and tells; requests/s
  and p50/p95/p99 per endpoint, and server CPU per request over the whole mix;
- ask, report, heartbeat, tell: the same N workers send only that request (each asks
  `--held` trials and keeps them, reports and heartbeats on them, then tells them), so the
  server's CPU in the phase over its requests is that endpoint's CPU per request;
- fleet: the loop again, each worker training an epoch (`--epoch-seconds`, +-20%) before
  each report, from staggered starts: the load N GPUs send, where the loop measures only
  the most the server holds.

The default sampler alone is then timed in this process on the history the phases left, so
an ask's server CPU can be held against the sampler's, and the report phase's requests go
to a bare FastAPI app of a report's shape (bench/load_anchor.py) served the same way, so
that each endpoint's CPU is also a multiple of the framework's floor, measured in this run.
Then N threads of `optuna.load_study(...)` on a second database of the same PostgreSQL run
the loop and the fleet (ask with its suggestions, `trial.report` per epoch, tell) for as
long, as the anchor a team would otherwise deploy. The last line is
`ask_p99_ms_at_<N>_workers: <ms>`, the fleet phase's (the line before it, `..._unpaced`,
the loop's).

    python bench/load.py                          # 64 workers, 2 server processes, 30 s
    python bench/load.py --workers 16 --seconds 10 --no-optuna
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script: python bench/load.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import optuna_anchor
from bench.ask_latency import DEFAULT_POSTGRES_URL, SPACE, fresh_postgres, objective
from bench.load_anchor import bare_server
from bench.servers import serving
from parzen.service.algorithms import Observation
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.server import free_port
from parzen.service.space import parse_space
from parzen.service.storage import Storage
from parzen.worker.client import ParzenClient

TOKEN = "bench-load-admin-token"
STUDY = "load"
ENDPOINTS = ("ask", "report", "heartbeat", "tell")
ROOT = Path(__file__).resolve().parents[1]


# The server


@contextlib.contextmanager
def parzen_server(url: str, processes: int, root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """`parzen server --workers K` on `url`: its address and the uvicorn master's pid. It
    runs in the checkout `root`, so that it imports that checkout's modules."""
    port = free_port()
    env = os.environ | {
        "PARZEN_DATABASE_URL": url,
        "PARZEN_ADMIN_TOKEN": TOKEN,
        "PARZEN_PORT": str(port),
        "PARZEN_LEASE_SECONDS": "600",
        # 2 x 20 connections at most: the shared PostgreSQL allows 100 in all.
        "PARZEN_DB_POOL_SIZE": "10",
        "PARZEN_DB_MAX_OVERFLOW": "10",
    }
    command = [sys.executable, "-m", "parzen.cli.main", "server", "--workers", str(processes)]
    with serving(command, port=port, cwd=root, env=env) as served:
        yield served


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its living children (uvicorn's workers)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


# The load generator (its own process)


class Recorder:
    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def call(self, endpoint: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            result = fn()
        except Exception:
            with self._lock:
                self.errors[endpoint] += 1
            raise
        with self._lock:
            self.seconds[endpoint].append(time.perf_counter() - start)
        return result


def in_threads(n: int, body: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=body, args=(k,), daemon=True) for k in range(n)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def generate(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase, with the server's CPU seconds around each."""
    clients = [ParzenClient(args.url, TOKEN) for _ in range(args.workers)]
    out: dict[str, Any] = {}

    def phase(name: str, body: Callable[[int], None], recorder: Recorder) -> None:
        before = cpu_seconds(args.server_pid)
        wall = in_threads(args.workers, body)
        out[name] = {
            "wall": wall,
            "cpu": cpu_seconds(args.server_pid) - before,
            "seconds": dict(recorder.seconds),
            "errors": dict(recorder.errors),
        }

    def looping(recorder: Recorder, pace: float) -> Callable[[int], None]:
        """Each worker: ask, `--epochs` reports, tell, for `--seconds`; with `pace`, an
        epoch of training (pace s, +-20%) before each report, and a staggered start."""
        stop_at = time.monotonic() + args.seconds

        def worker_loop(k: int) -> None:
            client, rng = clients[k], np.random.default_rng(k)
            time.sleep(rng.uniform(0, pace))
            while time.monotonic() < stop_at:
                ask = recorder.call("ask", lambda: client.ask(STUDY))
                if ask.trial is None:
                    time.sleep(0.05)
                    continue
                trial = ask.trial
                for epoch in range(1, args.epochs + 1):
                    time.sleep(pace * rng.uniform(0.8, 1.2))
                    values = {"loss": 1.0 / epoch}
                    recorder.call(
                        "report",
                        lambda t=trial, e=epoch, v=values: client.report(
                            t.id, e, v, lease_token=t.lease_token
                        ),
                    )
                value = objective(trial.params, rng)
                recorder.call(
                    "tell",
                    lambda t=trial, v=value: client.tell(
                        t.id, "complete", v, lease_token=t.lease_token
                    ),
                )

        return worker_loop

    loop, fleet = Recorder(), Recorder()
    phase("loop", looping(loop, 0.0), loop)
    phase("fleet", looping(fleet, args.epoch_seconds), fleet)
    held: list[list[Any]] = [[] for _ in range(args.workers)]
    single = {name: Recorder() for name in ENDPOINTS}

    def ask_only(k: int) -> None:
        for _ in range(args.held):
            ask = single["ask"].call("ask", lambda: clients[k].ask(STUDY))
            if ask.trial is not None:
                held[k].append(ask.trial)

    def report_only(k: int) -> None:
        for step in range(1, 4):
            for trial in held[k]:
                single["report"].call(
                    "report",
                    lambda t=trial, s=step: clients[k].report(
                        t.id, s, {"loss": 1.0 / s}, lease_token=t.lease_token
                    ),
                )

    def heartbeat_only(k: int) -> None:
        for _ in range(3):
            for trial in held[k]:
                single["heartbeat"].call(
                    "heartbeat",
                    lambda t=trial: clients[k].heartbeat(t.id, lease_token=t.lease_token),
                )

    def tell_only(k: int) -> None:
        rng = np.random.default_rng(1000 + k)
        for trial in held[k]:
            value = objective(trial.params, rng)
            single["tell"].call(
                "tell",
                lambda t=trial, v=value: clients[k].tell(
                    t.id, "complete", v, lease_token=t.lease_token
                ),
            )

    for name, body in zip(
        ENDPOINTS, (ask_only, report_only, heartbeat_only, tell_only), strict=True
    ):
        phase(name, body, single[name])
    for client in clients:
        client.close()
    return out


def generate_anchor(args: argparse.Namespace) -> dict[str, Any]:
    """Three times the report phase's requests, from as many workers, against the anchor
    app (bench/load_anchor.py), with the server's CPU seconds around them (more requests
    than the phase: the anchor is short, so its noise would be the ratio's)."""
    clients = [ParzenClient(args.url, TOKEN) for _ in range(args.workers)]
    recorder = Recorder()
    token = "x" * 43  # a lease token's length; the anchor checks nothing

    def report_only(k: int) -> None:
        for step in range(1, 9 * args.held + 1):
            recorder.call(
                "report",
                lambda s=step: clients[k].report(k + 1, s, {"loss": 1.0 / s}, lease_token=token),
            )

    # Each client's connection opened first, as Parzen's phases find theirs open already.
    in_threads(args.workers, lambda k: clients[k].report(k + 1, 0, {}, lease_token=token))
    before = cpu_seconds(args.server_pid)
    wall = in_threads(args.workers, report_only)
    for client in clients:
        client.close()
    return {
        "wall": wall,
        "cpu": cpu_seconds(args.server_pid) - before,
        "seconds": dict(recorder.seconds),
        "errors": dict(recorder.errors),
    }


def generate_optuna(args: argparse.Namespace) -> dict[str, Any]:
    """The loop through Optuna's RDB storage: one load_study per thread."""
    studies: list[Any] = [None] * args.workers

    def looping(recorder: Recorder, pace: float) -> Callable[[int], None]:
        stop_at = time.monotonic() + args.seconds

        def worker_loop(k: int) -> None:
            if studies[k] is None:
                studies[k] = recorder.call(
                    "load_study",
                    lambda: optuna_anchor.load_rdb(args.optuna_url, STUDY, seed=k, connections=1),
                )
            study, rng = studies[k], np.random.default_rng(k)
            time.sleep(rng.uniform(0, pace))
            while time.monotonic() < stop_at:
                try:
                    trial, params = recorder.call("ask", lambda: ask_with_params(study))
                    for epoch in range(1, args.epochs + 1):
                        time.sleep(pace * rng.uniform(0.8, 1.2))
                        recorder.call("report", lambda t=trial, e=epoch: t.report(1.0 / e, e))
                    value = objective(params, rng)
                    recorder.call("tell", lambda t=trial, v=value: study.tell(t, v))
                except Exception:  # counted by the recorder; the client carries on
                    time.sleep(0.1)

        return worker_loop

    out: dict[str, Any] = {}
    for name, pace in (("loop", 0.0), ("fleet", args.epoch_seconds)):
        recorder = Recorder()
        wall = in_threads(args.workers, looping(recorder, pace))
        out[name] = {
            "wall": wall,
            "seconds": dict(recorder.seconds),
            "errors": dict(recorder.errors),
        }
    return out


def ask_with_params(study: Any) -> tuple[Any, dict[str, Any]]:
    trial = study.ask()
    return trial, optuna_anchor.suggest(trial)


def sampler_cpu_ms(url: str, repeats: int = 20) -> tuple[int, float]:
    """The default sampler's CPU per proposal on the study's history as the phases left it
    (pending trials included, as the server's constant liar sees them), in this process:
    what an ask's server CPU is held against. As in the service (and bench/sampler_speed.py),
    each proposal follows the observation of the previous one as a running trial, and the
    time includes that observe: what the sampler keeps is timed being brought up to date,
    not merely reused. Returns (trials in the history, ms)."""
    storage = Storage.from_url(url)
    try:
        sampler = MultivariateTPESampler(parse_space(SPACE), seed=1)
        count = 0
        while True:
            trials, total = storage.list_trials(study_name=STUDY, offset=count, limit=1000)
            sampler.observe(
                Observation(t.number, t.state, t.vals, t.value if t.state == "complete" else None)
                for t in trials
            )
            count += len(trials)
            if not trials or count >= total:
                break
        number = count + 1
        vals = sampler.propose(number)  # warm: the arrays are built once, then grow
        start = time.process_time()
        for _ in range(repeats):
            sampler.observe([Observation(number, "running", vals, None)])
            number += 1
            vals = sampler.propose(number)
        return count, (time.process_time() - start) / repeats * 1000
    finally:
        storage.close()


# Output


def ask_p99(run: dict[str, Any]) -> float:
    asks = run["seconds"].get("ask", [])
    return float(np.percentile(asks, 99) * 1000) if asks else math.nan


def anchor_line(parzen: dict[str, Any], anchor: dict[str, Any]) -> str:
    """Each endpoint's server CPU per request as a multiple of the anchor's, same run."""
    n = len(anchor["seconds"].get("report", []))
    if not n or sum(anchor["errors"].values()):
        return "the anchor: no clean run"
    floor = anchor["cpu"] / n * 1000
    multiples = []
    for endpoint in ENDPOINTS:
        count = len(parzen[endpoint]["seconds"].get(endpoint, []))
        if count:
            multiples.append(f"{endpoint} {parzen[endpoint]['cpu'] / count * 1000 / floor:.2f}x")
    return (
        f"the anchor (bench/load_anchor.py: FastAPI alone, a report's route, {n} requests): "
        f"{floor:.2f} ms of server CPU a request; Parzen's, as multiples of it: "
        + ", ".join(multiples)
    )


def pct(xs: Sequence[float], q: float) -> str:
    return f"{np.percentile(xs, q) * 1000:.1f}" if xs else "-"


def render(
    parzen: dict[str, Any], optuna: dict[str, Any] | None, args: argparse.Namespace
) -> Table:
    table = Table(
        title=(
            f"{args.workers} simulated workers (ask, {args.epochs} reports, tell), "
            f"parzen server --workers {args.server_workers} on PostgreSQL, {args.seconds:g} s "
            "a phase"
        ),
        caption=(
            "loop: no time between requests (the most the server holds). fleet: an epoch of "
            f"{args.epoch_seconds:g} s (+-20%) before each report, the load a fleet of "
            f"{args.workers} GPUs sends. server CPU ms/request: the phase of that endpoint "
            "alone (all: the phase's mix). Optuna: the same phases through its RDB storage "
            "(ask = ask + suggestions), run right after."
        ),
    )
    table.add_column("system")
    table.add_column("phase")
    table.add_column("endpoint")
    for name in (
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "server CPU\nms/request",
    ):
        table.add_column(name, justify="right")
    for phase in ("loop", "fleet"):
        _add_rows(table, "parzen", phase, parzen, ENDPOINTS)
    if optuna is not None:
        for phase in ("loop", "fleet"):
            _add_rows(table, "optuna RDB", phase, optuna, ("ask", "report", "tell"))
    return table


def _add_rows(
    table: Table, system: str, phase: str, result: dict[str, Any], endpoints: Sequence[str]
) -> None:
    """A phase's rows: latency per endpoint, and the server CPU per request where measured
    (the endpoint's phase alone for the loop's rows, the phase's own mix for "all")."""
    run = result[phase]
    seconds = {k: v for k, v in run["seconds"].items() if k != "load_study"}
    total = sum(len(v) for v in seconds.values())
    for endpoint in (*endpoints, "all"):
        xs = (
            [x for v in seconds.values() for x in v]
            if endpoint == "all"
            else seconds.get(endpoint, [])
        )
        if endpoint == "all":
            alone, n_alone = run, total
        elif phase == "loop" and endpoint in result:
            alone = result[endpoint]
            n_alone = len(alone["seconds"].get(endpoint, []))
        else:
            alone, n_alone = None, 0
        cpu = (
            f"{alone['cpu'] / n_alone * 1000:.2f}" if alone and "cpu" in alone and n_alone else "-"
        )
        errors = (
            sum(run["errors"].values()) if endpoint == "all" else run["errors"].get(endpoint, 0)
        )
        table.add_row(
            system,
            phase,
            endpoint,
            str(len(xs)),
            f"{len(xs) / run['wall']:.1f}",
            pct(xs, 50),
            pct(xs, 95),
            pct(xs, 99),
            str(errors),
            cpu,
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=64, help="simulated workers (threads)")
    parser.add_argument("--server-workers", type=int, default=2, help="server processes")
    parser.add_argument("--epochs", type=int, default=3, help="reports per trial")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the loop phase")
    parser.add_argument("--held", type=int, default=3, help="trials each worker asks alone")
    parser.add_argument(
        "--epoch-seconds", type=float, default=1.0, help="an epoch's training in the fleet phase"
    )
    parser.add_argument("--no-optuna", action="store_true", help="skip the Optuna anchor")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--generate", choices=["parzen", "anchor", "optuna"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--optuna-url", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.workers, args.server_workers, args.held) < 1 or args.epochs < 0:
        parser.error("--workers, --server-workers and --held must be >= 1, --epochs >= 0")
    if args.epoch_seconds < 0:
        parser.error("--epoch-seconds must be >= 0")
    return args


def run_generator(kind: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """The load generator in a process of its own; its results come back as JSON."""
    out = Path(f"/tmp/parzen-load-{os.getpid()}-{kind}.json")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--generate",
        kind,
        "--workers",
        str(args.workers),
        "--epochs",
        str(args.epochs),
        "--seconds",
        str(args.seconds),
        "--held",
        str(args.held),
        "--epoch-seconds",
        str(args.epoch_seconds),
        "--out",
        str(out),
        *[x for key, value in extra.items() for x in (f"--{key.replace('_', '-')}", str(value))],
    ]
    subprocess.run(command, cwd=ROOT, check=True)
    try:
        return dict(json.loads(out.read_text()))
    finally:
        out.unlink(missing_ok=True)


def create_study(url: str) -> None:
    with ParzenClient(url, TOKEN) as client:
        client.create_study(
            {
                "name": STUDY,
                "direction": "minimize",
                "metric": "loss",
                "space": SPACE,
                "algorithm": "tpe-mv",
                "seed": 1,
                "budget": {"max_trials": 100_000, "max_parallel": 10_000},
            }
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generate:
        generators = {"parzen": generate, "anchor": generate_anchor, "optuna": generate_optuna}
        result = generators[args.generate](args)
        Path(args.out).write_text(json.dumps(result))
        return 0
    progress = Console(stderr=True)
    load_before = os.getloadavg()[0]
    pid = os.getpid()
    with (
        fresh_postgres(args.postgres_url, f"parzen_load_{pid}", migrate=False) as url,
        parzen_server(url, args.server_workers) as (address, server_pid),
    ):
        create_study(address)
        progress.print(f"parzen: {args.workers} workers for {args.seconds:g} s ...")
        parzen = run_generator("parzen", args, url=address, server_pid=server_pid)
        history, sampler_ms = sampler_cpu_ms(url)
    with bare_server(free_port(), args.server_workers) as (address, anchor_pid):
        progress.print("the anchor: a bare FastAPI POST of a report's shape ...")
        anchor = run_generator("anchor", args, url=address, server_pid=anchor_pid)
    optuna = None
    if not args.no_optuna:
        with fresh_postgres(args.postgres_url, f"parzen_load_optuna_{pid}", migrate=False) as url:
            optuna_anchor.rdb_study(url, STUDY)
            progress.print(f"optuna: {args.workers} workers for {args.seconds:g} s ...")
            optuna = run_generator("optuna", args, optuna_url=url)
    console = Console(width=max(Console().width, 150))
    console.print(render(parzen, optuna, args))
    console.print(
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    ask = parzen["ask"]
    ask_cpu_ms = ask["cpu"] / max(1, len(ask["seconds"].get("ask", []))) * 1000
    console.print(
        f"the sampler alone (tpe-mv, this process) at the {history} trials the phases left: "
        f"{sampler_ms:.2f} ms of CPU a proposal; an ask's server CPU beyond it: "
        f"{ask_cpu_ms - sampler_ms:.2f} ms"
    )
    console.print(anchor_line(parzen, anchor), soft_wrap=True)
    sys.stdout.flush()
    print(f"ask_p99_ms_at_{args.workers}_workers_unpaced: {ask_p99(parzen['loop']):.1f}")
    print(f"ask_p99_ms_at_{args.workers}_workers: {ask_p99(parzen['fleet']):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
