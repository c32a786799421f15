"""Prometheus metrics of one worker daemon process, served by `parzen worker --metrics-port`.

Each daemon process serves its own port (prometheus-client's `start_http_server`): with
`--gpus` several processes, process i of the supervisor listens on port N + i, so that every
GPU's daemon is one scrape target with its own `instance` label and no process's numbers are
mixed with another's. A recycled process (--max-trials-per-process) starts its counters at
zero again, a counter reset that Prometheus' rate() and increase() expect.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, start_http_server

TRIALS = Counter(
    "parzen_worker_trials_total",
    "Trials this process ran, by outcome (complete, pruned, failed, released, lost).",
    ["outcome"],
)
EPOCHS = Counter("parzen_worker_epochs_total", "Epochs trained (each one reported).")
TRAINING_SECONDS = Counter(
    "parzen_worker_training_seconds_total",
    "Seconds inside model.fit, less the time our callbacks took (reports, checkpoints).",
)
OVERHEAD_SECONDS = Counter(
    "parzen_worker_overhead_seconds_total",
    "Seconds of trials spent on anything but training: lease, data, build, reports, "
    "checkpoints, upload, tell.",
)
BUILD_SECONDS = Counter(
    "parzen_worker_build_seconds_total",
    "Seconds building models (the builder's call, its compile included); part of the overhead.",
)


def serve(port: int) -> None:
    """Serve /metrics on `port` (all interfaces: Prometheus scrapes from elsewhere) from a
    daemon thread that lives as long as the process."""
    start_http_server(port)


class Timing(Protocol):
    """What the daemon records of a trial (worker.reporting.TrialTiming)."""

    @property
    def outcome(self) -> str: ...
    @property
    def fit_seconds(self) -> float: ...
    @property
    def callback_seconds(self) -> float: ...
    @property
    def build_seconds(self) -> float: ...
    @property
    def overhead_seconds(self) -> float: ...


def record_trial(timing: Timing) -> None:
    TRIALS.labels(outcome=timing.outcome).inc()
    TRAINING_SECONDS.inc(max(timing.fit_seconds - timing.callback_seconds, 0.0))
    OVERHEAD_SECONDS.inc(max(timing.overhead_seconds, 0.0))
    BUILD_SECONDS.inc(max(timing.build_seconds, 0.0))
