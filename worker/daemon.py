"""The worker daemon: lease a trial, train it, report every epoch, tell the result, repeat.

One process per GPU (see worker/launcher.py). The loop is short on purpose:

    while not stopping:
        ask = client.lease(worker_id)
        ok -> run the trial; wait -> sleep; done -> exit in burst mode, else sleep

Two kinds of error, kept apart as KerasTuner's `_try_run_and_update_trial` keeps them (a
trial is run, and the two told apart, in worker/trial_run.py):

- The trial's own failure (its builder raises, a NaN loss, out of memory, its dataset fails to
  load): told `failed` with its traceback, and the loop goes on. A study that fails
  `max_failures` trials in a row is no longer leased by this worker.
- A service error (worker/reporting.ServiceError: the server refuses a report, heartbeat,
  upload or tell, or stays unreachable past `retry_seconds`): never told as a failure. The
  trial stops at its next epoch and is handed back if it still can be; with its study or
  trial gone (404) or taken away (409) the daemon leases the next trial; with its token
  refused (401, 403) or the server unreachable it exits non-zero (EX_NOPERM, EX_UNAVAILABLE).

Whatever ends the loop (no work left in burst mode, SIGTERM or Ctrl-C, a fatal error), the
daemon says goodbye, so that the server hands back its trial at once and lists it as exited,
and closes its client (the `finally` of arq's Worker.close). On SIGTERM the current epoch
finishes and the trial is handed back first; a second signal exits at once.

`create(config)` builds a daemon with its defaults: an HTTP client of `config.url` (closed at
exit) and the registry of built-ins, entry points and `config.modules`. `Daemon(config,
client, registry)` takes any `worker.protocol.WorkerService`: tests use an in-memory fake.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import psutil

from parzen.worker import metrics as worker_metrics
from parzen.worker.client import ParzenClient, Trial
from parzen.worker.protocol import FinalizationJob, WorkerService
from parzen.worker.reporting import SERVICE_ERRORS, Outcome, ServiceError, TrialTiming
from parzen.worker.trial_run import TrialRunner

if TYPE_CHECKING:
    from parzen.worker.registry import Registry

log = logging.getLogger("parzen.worker")


@dataclass(frozen=True)
class DaemonConfig:
    url: str
    token: str | None = None
    burst: bool = False
    modules: tuple[str, ...] = ()
    artifact_dir: Path = Path("artifacts/worker")
    tensorboard_dir: Path | None = None
    poll_seconds: float = 2.0
    max_failures: int = 3
    gpu: str | None = None
    retry_seconds: float = 3600.0
    # After this many trials the daemon exits with RECYCLE and its supervisor starts a fresh
    # process, as Celery's max_tasks_per_child does: for plugins whose models leak (the
    # built-in ones leave nothing behind: worker.backend.reset_keras_state). 0: never.
    max_trials_per_process: int = 0
    metrics_port: int = 0  # serve Prometheus metrics on this port (worker/metrics.py); 0: off


RECYCLE = 75  # exit code: "start me again" (EX_TEMPFAIL)
GOODBYE_SECONDS = 10.0  # at most this long retrying the goodbye: an exit should not hang


def create(config: DaemonConfig, *, client: WorkerService | None = None) -> Daemon:
    """A daemon with the defaults: the registry of built-ins, entry points and
    `config.modules`, and (unless `client` is given) a client of `config.url`, which the
    daemon closes when it exits."""
    from parzen.worker.registry import Registry

    registry = Registry.default(config.modules)
    if client is not None:
        return Daemon(config, client, registry)
    own = ParzenClient(config.url, config.token, retry_seconds=config.retry_seconds)
    return Daemon(config, own, registry, owns_client=True)


@dataclass
class Daemon:
    config: DaemonConfig
    client: WorkerService
    registry: Registry
    owns_client: bool = False  # close the client at exit: create() made it
    worker_id: str = ""
    exit_code: int | None = None  # what run() returned
    counts: Counter[str] = field(default_factory=Counter)
    timings: list[TrialTiming] = field(default_factory=list)
    _shutdown: threading.Event = field(default_factory=threading.Event)
    _failures_in_a_row: Counter[str] = field(default_factory=Counter)
    _given_up: dict[str, str] = field(default_factory=dict)
    _runner: TrialRunner = field(init=False)

    def __post_init__(self) -> None:
        self._runner = TrialRunner(
            self.client,
            self.registry,
            self._shutdown,
            artifact_dir=self.config.artifact_dir,
            tensorboard_dir=self.config.tensorboard_dir,
        )

    def run(self) -> int:
        """Serve until the work runs out (burst), a signal or a fatal service error; the exit
        code: 0, RECYCLE, or a ServiceError's (EX_NOPERM, EX_UNAVAILABLE)."""
        from parzen.worker.backend import configure_devices

        self._install_signal_handlers()
        configure_devices()
        try:
            code = self._serve()
        except ServiceError as exc:
            log.error(
                "worker %s stops with exit code %d: %s; saying goodbye and exiting; %s",
                self.worker_id or "(unregistered)",
                exc.exit_code,
                exc,
                exc.next_step,
            )
            code = exc.exit_code
        finally:
            self._clean_up()
        self.exit_code = code
        return code

    def _serve(self) -> int:
        try:
            self.worker_id = self._register()
        except SERVICE_ERRORS as exc:
            raise ServiceError("register", exc) from exc
        import keras

        log.info(
            "worker %s serving %s on Keras %s (%s backend)",
            self.worker_id,
            self.config.url,
            keras.__version__,
            keras.backend.backend(),
        )
        if self.config.metrics_port:
            worker_metrics.serve(self.config.metrics_port)
            log.info("metrics on port %d", self.config.metrics_port)
        # Everything alive now (TensorFlow, Keras, datasets) lives as long as the process:
        # out of the collector's sight, the full collection after each trial takes a
        # quarter of the time.
        gc.collect()
        gc.freeze()
        limit = self.config.max_trials_per_process
        while not self._shutdown.is_set():
            if limit and len(self.timings) >= limit:
                log.info("recycling the process after %d trials", limit)
                return RECYCLE
            asked = time.perf_counter()
            try:
                ask = self.client.lease(self.worker_id, exclude=sorted(self._given_up))
            except SERVICE_ERRORS as exc:  # no work to be had: whatever the answer, stop
                raise ServiceError("lease", exc) from exc
            if ask.trial is not None:
                self._run_trial(ask.trial, asked)
            elif ask.evaluation is not None:
                job = FinalizationJob.from_dict(ask.evaluation)
                try:
                    self.counts[self._run_evaluation(job)] += 1
                except SERVICE_ERRORS as exc:
                    error = ServiceError(f"finalization {job.id}", exc)
                    if error.fatal:
                        raise error from exc
                    log.warning("%s; leasing the next job", error)
            elif ask.status == "done" and self.config.burst:
                log.info("no work left: %s", ask.reason)
                break
            else:
                self._shutdown.wait(self.config.poll_seconds)
        log.info("worker %s exits: %s", self.worker_id, dict(self.counts) or "no trials")
        return 0

    def stop(self) -> None:
        """Finish the current epoch, hand the trial back, exit (what SIGTERM does)."""
        self._shutdown.set()

    def _clean_up(self) -> None:
        """Say goodbye (the server hands back any trial still running here and lists the
        worker as exited), then close the client; whatever ended the loop."""
        try:
            if self.worker_id:
                seconds = min(GOODBYE_SECONDS, self.config.retry_seconds)
                self.client.goodbye(self.worker_id, retry_seconds=seconds)
        except SERVICE_ERRORS as exc:
            log.warning(
                "goodbye failed (%s): a trial worker %s held is queued again when its lease "
                "runs out",
                exc,
                self.worker_id,
            )
        finally:
            if self.owns_client:
                self.client.close()

    def _register(self) -> str:
        worker = self.client.register_worker(
            host=socket.gethostname(),
            pid=os.getpid(),
            gpu=self.config.gpu,
            builders=self.registry.builder_names(),
            datasets=self.registry.dataset_names(),
        )
        return str(worker["id"])

    def _run_trial(self, trial: Trial, asked: float) -> None:
        started = time.perf_counter()
        outcome, spent = self._runner.run(trial)
        self.counts[outcome] += 1
        rss = psutil.Process().memory_info().rss
        total = time.perf_counter() - asked
        self.timings.append(
            TrialTiming(
                number=trial.number,
                outcome=outcome,
                lease_seconds=started - asked,
                total_seconds=total,
                fit_seconds=spent.fit_seconds,
                callback_seconds=spent.callback_seconds,
                build_seconds=spent.build_seconds,
                rss_bytes=rss,
            )
        )
        worker_metrics.record_trial(self.timings[-1])
        log.info("trial %s #%d: %s in %.1f s", trial.study, trial.number, outcome, total)
        self._count_failure(trial.study, outcome)

    def _run_evaluation(self, job: FinalizationJob) -> str:
        from parzen.worker.evaluation import run_job

        cache = self.config.artifact_dir / "evaluations" / str(job.id)
        return run_job(job.spec, client=self.client, registry=self.registry, cache=cache)

    def _count_failure(self, study: str, outcome: Outcome) -> None:
        if outcome in ("lost", "released"):
            return  # says nothing about whether this study's trials can run
        if outcome != "failed":
            self._failures_in_a_row[study] = 0
            return
        self._failures_in_a_row[study] += 1
        if self._failures_in_a_row[study] >= self.config.max_failures:
            reason = f"{self.config.max_failures} trials failed in a row"
            self._given_up[study] = reason
            log.error("worker stops leasing study %s: %s (see the trials' errors)", study, reason)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # an in-process daemon (tests, benchmarks) is stopped with stop()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if self._shutdown.is_set():
                log.warning("second signal: exiting now")
                os._exit(128 + signum)
            log.warning("signal %d: finishing this epoch, handing the trial back", signum)
            self._shutdown.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
