"""Server CPU per request of two checkouts, A and B, in one run: one `parzen server` process
each, on a PostgreSQL database each, sent the same requests in bursts that alternate (A B,
then B A, ...), so that what the machine does meanwhile falls on both alike. On 2 shared
cores one endpoint's CPU per request moves by a fifth from one bench/load.py run to the next;
the median of the bursts' ratio here moves by a few percent.

    python bench/cpu_ab.py ../parzen-before . --endpoint report
    python bench/cpu_ab.py ../parzen-before . --endpoint tell --burst 200

`report` and `heartbeat` go to trials each thread asked first; `tell` to trials asked and
reported on once before each burst (outside its CPU); `ask` creates trials. `--history N`
first imports N finished trials of random draws into each study (the same ones), so that
asks propose from a history of that size. Each burst also gives the median of its requests'
latency as the clients saw it (with `--threads 1`, one request at a time: no queue). The
last line is `cpu_ratio_b_over_a_<endpoint>: <median of B's bursts over A's>`.

    python bench/cpu_ab.py ../parzen-before . --endpoint ask --history 10000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: python bench/cpu_ab.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.ask_latency import DEFAULT_POSTGRES_URL, SPACE, fresh_postgres, random_trials
from bench.load import STUDY, TOKEN, cpu_seconds, create_study, in_threads, parzen_server
from parzen.service.space import parse_space
from parzen.worker.client import ParzenClient


def random_history(count: int) -> list[dict[str, Any]]:
    """`count` finished trials of random draws and the synthetic objective, to import."""
    rng = np.random.default_rng(count)
    trials = random_trials(parse_space(SPACE), range(1, count + 1), rng=rng)
    return [{"params": t.params, "state": t.state, "value": t.value} for t in trials]


class Side:
    """One checkout's server and its clients; `burst()` adds one CPU-per-request sample."""

    def __init__(
        self, address: str, pid: int, args: argparse.Namespace, history: list[dict[str, Any]]
    ) -> None:
        self.pid, self.args = pid, args
        create_study(address)
        self.clients = [ParzenClient(address, TOKEN) for _ in range(args.threads)]
        if history:
            self.clients[0].import_trials(STUDY, history)
        self.trials: list[list[Any]] = [[] for _ in range(args.threads)]
        self.steps = [0] * args.threads
        self.samples: list[float] = []  # server CPU ms a request, a burst each
        self.latency: list[float] = []  # median ms a request as the clients saw it, a burst each
        self._seconds: list[list[float]] = [[] for _ in range(args.threads)]
        if args.endpoint in ("report", "heartbeat"):
            in_threads(args.threads, self._ask_one)

    def _ask_one(self, k: int) -> None:
        self.trials[k].append(self.clients[k].ask(STUDY).trial)

    def _prepare_tells(self, k: int, count: int) -> None:
        client = self.clients[k]
        for _ in range(count):
            trial = client.ask(STUDY).trial
            client.report(trial.id, 1, {"loss": 0.5}, lease_token=trial.lease_token)
            self.trials[k].append(trial)

    def _send(self, k: int, count: int) -> None:
        client, endpoint = self.clients[k], self.args.endpoint
        for _ in range(count):
            start = time.perf_counter()
            self._send_one(k, client, endpoint)
            self._seconds[k].append(time.perf_counter() - start)

    def _send_one(self, k: int, client: ParzenClient, endpoint: str) -> None:
        if endpoint == "ask":
            client.ask(STUDY)
        elif endpoint == "tell":
            trial = self.trials[k].pop()
            client.tell(trial.id, "complete", 0.5, lease_token=trial.lease_token)
        else:
            trial = self.trials[k][0]
            self.steps[k] += 1
            if endpoint == "report":
                client.report(trial.id, self.steps[k], {"loss": 0.5}, lease_token=trial.lease_token)
            else:
                client.heartbeat(trial.id, lease_token=trial.lease_token)

    def burst(self) -> None:
        each = self.args.burst // self.args.threads
        if self.args.endpoint == "tell":
            in_threads(self.args.threads, lambda k: self._prepare_tells(k, each))
        for seconds in self._seconds:
            seconds.clear()
        before = cpu_seconds(self.pid)
        in_threads(self.args.threads, lambda k: self._send(k, each))
        self.samples.append((cpu_seconds(self.pid) - before) / (each * self.args.threads) * 1e3)
        self.latency.append(statistics.median(x for xs in self._seconds for x in xs) * 1e3)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("a", type=Path, help="checkout A (the anchor)")
    parser.add_argument("b", type=Path, help="checkout B")
    parser.add_argument(
        "--endpoint", choices=["report", "heartbeat", "tell", "ask"], default="report"
    )
    parser.add_argument("--burst", type=int, default=400, help="requests a burst")
    parser.add_argument("--rounds", type=int, default=8, help="bursts each, after a warm one")
    parser.add_argument("--threads", type=int, default=4, help="clients, each its own thread")
    parser.add_argument(
        "--history", type=int, default=0, help="finished trials imported into each study first"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    pid = os.getpid()
    with (
        fresh_postgres(args.postgres_url, f"parzen_ab_a_{pid}", migrate=False) as url_a,
        fresh_postgres(args.postgres_url, f"parzen_ab_b_{pid}", migrate=False) as url_b,
        parzen_server(url_a, 1, root=args.a.resolve()) as (address_a, pid_a),
        parzen_server(url_b, 1, root=args.b.resolve()) as (address_b, pid_b),
    ):
        history = random_history(args.history)
        a, b = Side(address_a, pid_a, args, history), Side(address_b, pid_b, args, history)
        a.burst(), b.burst()  # warm: connections, caches, the samplers' first arrays
        for side in (a, b):
            side.samples.clear()
            side.latency.clear()
        for round_ in range(args.rounds):
            first, second = (a, b) if round_ % 2 == 0 else (b, a)
            first.burst()
            second.burst()
    ratios = [y / x for x, y in zip(a.samples, b.samples, strict=True)]
    print(f"{args.endpoint}: server CPU ms a request, {args.rounds} bursts of {args.burst} each")
    print(f"  A {args.a}: " + " ".join(f"{x:.2f}" for x in a.samples))
    print(f"  B {args.b}: " + " ".join(f"{x:.2f}" for x in b.samples))
    print(
        f"  medians A {statistics.median(a.samples):.2f}, B {statistics.median(b.samples):.2f}; "
        f"B/A per round {min(ratios):.3f}-{max(ratios):.3f}"
    )
    latency = [y / x for x, y in zip(a.latency, b.latency, strict=True)]
    print(
        f"  latency medians A {statistics.median(a.latency):.2f} ms, "
        f"B {statistics.median(b.latency):.2f} ms; B/A median of the bursts "
        f"{statistics.median(latency):.3f} (range {min(latency):.3f}-{max(latency):.3f})"
    )
    print(f"cpu_ratio_b_over_a_{args.endpoint}: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
