"""Prometheus metrics of the server, scraped at /metrics (prometheus-client).

Two kinds, by where the truth is:
- What happens in a process (asks, tells, reports, ask latency, lease expiries it swept) is
  counted in that process with module-level counters. Under several server processes
  (`parzen server --workers K`) these use prometheus-client's multiprocess mode: with
  PROMETHEUS_MULTIPROC_DIR set before the library is imported, every process writes its
  values to files there and a scrape, whichever process answers it, sums them
  (`MultiProcessCollector`, the library's documented idiom).
- What the database knows (trials by study and state, workers seen recently, test-split
  uses) is read at scrape time by `StorageCollector`, so every process answers alike and no
  number is summed twice.

No metric has a per-trial label: a fleet runs many thousands of trials.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import ParamSpec, Protocol, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from parzen.service.storage import Storage, StorageError
from parzen.service.storage.records import TRIAL_STATES, LeaseExpiry

__all__ = ["CONTENT_TYPE_LATEST", "render"]

Q = ParamSpec("Q")
A = TypeVar("A", bound="_Answer")
T = TypeVar("T", bound="_Told")
R = TypeVar("R", bound="_Reported")

ASKS = Counter(
    "parzen_asks_total",
    "Asks for a trial (study ask and worker lease), by the status answered.",
    ["status"],
)
ASK_SECONDS = Histogram(
    "parzen_ask_duration_seconds",
    "Time to answer an ask, proposal included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TELLS = Counter("parzen_tells_total", "Tells, by the state the trial ended in.", ["state"])
REPORTS = Counter(
    "parzen_reports_total",
    "Intermediate reports, by whether the answer told the worker to stop.",
    ["should_stop"],
)
LEASES_EXPIRED = Counter(
    "parzen_leases_expired_total",
    "Running trials whose lease ran out, by what became of them (requeued or failed).",
    ["outcome"],
)


class _Answer(Protocol):
    @property
    def status(self) -> str: ...


class _Told(Protocol):
    @property
    def state(self) -> str: ...


class _Reported(Protocol):
    @property
    def should_stop(self) -> bool: ...


def instrument_ask(route: Callable[Q, Awaitable[A]]) -> Callable[Q, Awaitable[A]]:
    """Time an ask route and count its answer's status ('error' when it raised)."""

    @functools.wraps(route)
    async def wrapper(*args: Q.args, **kwargs: Q.kwargs) -> A:
        start, status = time.perf_counter(), "error"
        try:
            answer = await route(*args, **kwargs)
            status = answer.status
            return answer
        finally:
            ASK_SECONDS.observe(time.perf_counter() - start)
            ASKS.labels(status=status).inc()

    return wrapper


def instrument_tell(route: Callable[Q, Awaitable[T]]) -> Callable[Q, Awaitable[T]]:
    @functools.wraps(route)
    async def wrapper(*args: Q.args, **kwargs: Q.kwargs) -> T:
        trial = await route(*args, **kwargs)
        TELLS.labels(state=trial.state).inc()
        return trial

    return wrapper


def instrument_report(route: Callable[Q, Awaitable[R]]) -> Callable[Q, Awaitable[R]]:
    @functools.wraps(route)
    async def wrapper(*args: Q.args, **kwargs: Q.kwargs) -> R:
        answer = await route(*args, **kwargs)
        REPORTS.labels(should_stop=str(answer.should_stop).lower()).inc()
        return answer

    return wrapper


def count_expired(expiry: LeaseExpiry) -> None:
    """Count the leases a sweep (the reaper's, or an ask's) expired."""
    if expiry.requeued:
        LEASES_EXPIRED.labels(outcome="requeued").inc(expiry.requeued)
    if expiry.failed:
        LEASES_EXPIRED.labels(outcome="failed").inc(expiry.failed)


class StorageCollector(Collector):
    """The numbers the database holds, read at every scrape (the same from every process)."""

    def __init__(self, storage: Storage, seen_within_seconds: float) -> None:
        self.storage, self.seen_within_seconds = storage, seen_within_seconds

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("parzen_database_up", "1 if the database answered this scrape.")
        try:
            counts = self.storage.fleet_counts(seen_within_seconds=self.seen_within_seconds)
        except StorageError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        trials = GaugeMetricFamily(
            "parzen_trials", "Trials by study and state.", labels=["study", "state"]
        )
        for study in sorted({study for study, _ in counts.trials}):
            for state in TRIAL_STATES:  # zeros too, so that a state's series never vanishes
                trials.add_metric([study, state], counts.trials.get((study, state), 0))
        yield trials
        workers = GaugeMetricFamily(
            "parzen_workers_seen_recently",
            f"Workers heard from in the last {self.seen_within_seconds:g} s or holding a "
            "live lease, by state.",
            labels=["state"],
        )
        for worker_state, n in sorted(counts.workers_seen.items()):
            workers.add_metric([worker_state], n)
        yield workers
        uses = CounterMetricFamily(
            "parzen_test_split_uses",
            "Finalizations that loaded a study's sealed test split.",
            labels=["study"],
        )
        for study, n in sorted(counts.test_split_uses.items()):
            uses.add_metric([study], n)
        yield uses


class _ThisProcess(Collector):
    """The default registry (this process's counters, plus process and GC metrics)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render(storage: Storage, seen_within_seconds: float) -> bytes:
    """The Prometheus text exposition of everything above."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every server process's counters, summed from the files they write there.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(StorageCollector(storage, seen_within_seconds))
    return generate_latest(registry)
