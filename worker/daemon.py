"""The worker daemon: lease a trial, train it, report every epoch, tell the result, repeat.

One process per GPU (see worker/launcher.py). The loop is short on purpose:

    while not stopping:
        ask = client.lease(worker_id)
        ok -> run the trial; wait -> sleep; done -> exit in burst mode, else sleep

A failed trial is told and the loop goes on; a study that fails `max_failures` trials in a
row is no longer leased by this worker. On SIGTERM (or Ctrl-C) the current epoch finishes,
the trial is handed back to the queue and the daemon exits; a second signal exits at once.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

import psutil

from worker.client import ParzenClient, ParzenError, Trial

if TYPE_CHECKING:
    from worker.registry import Registry

log = logging.getLogger("parzen.worker")

Outcome = Literal["complete", "pruned", "failed", "released", "lost"]


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


RECYCLE = 75  # exit code: "start me again" (EX_TEMPFAIL)


@dataclass(frozen=True)
class TrialTiming:
    """Where a trial's time went, for bench/worker_overhead.py."""

    number: int
    outcome: Outcome
    lease_seconds: float  # asking the server for this trial
    total_seconds: float  # from asking to told, lease included
    fit_seconds: float  # inside model.fit, our callbacks included
    callback_seconds: float  # of fit_seconds: reporting and checkpoint saving
    rss_bytes: int  # resident memory after the trial

    @property
    def overhead_seconds(self) -> float:
        """Everything but the training itself: lease, build, reports, saving, tell."""
        return self.total_seconds - (self.fit_seconds - self.callback_seconds)


class _Reporter:
    """Posts each epoch's logs from a thread of its own, so that training never waits on the
    network; says stop once the server has said so (an epoch later, at most) or at shutdown.

    `close()` waits for the reports in flight, so that every epoch is recorded before the
    tell, and raises the first error a report met (as the next `report()` does).
    """

    def __init__(self, client: ParzenClient, trial: Trial, shutdown: threading.Event) -> None:
        self.client, self.trial, self.shutdown = client, trial, shutdown
        self.stopped_by: Literal["", "server", "shutdown"] = ""
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[int, dict[str, float]] | None] = queue.SimpleQueue()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._send_all, daemon=True, name="reports")
        self._thread.start()

    def report(self, step: int, values: Mapping[str, float]) -> bool:
        if self._error is not None:
            raise self._error
        if self.shutdown.is_set():
            self._stop("shutdown")
            return True
        self._queue.put((step, dict(values)))
        return self.stopped_by != ""

    def close(self, *, raise_error: bool = True) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if raise_error and self._error is not None:
            raise self._error

    def _send_all(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None or self.stopped_by:
                continue  # told to stop, or broken: the rest would be refused
            step, values = item
            try:
                if self.client.report(self.trial.id, step, values, attempt=self.trial.attempt):
                    self._stop("server")
            except Exception as exc:
                self._error = exc

    def _stop(self, by: Literal["server", "shutdown"]) -> None:
        with self._lock:
            self.stopped_by = self.stopped_by or by


class _Heartbeat:
    """Keeps a lease alive through epochs (or evaluations) longer than the lease."""

    def __init__(self, beat: Callable[[], object], lease_seconds: float) -> None:
        self._beat_once, self._interval = beat, max(lease_seconds / 3, 0.5)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._beat_once()
            except Exception:  # the next report retries; a beat is best effort
                log.warning("heartbeat failed", exc_info=True)


@dataclass
class Daemon:
    config: DaemonConfig
    client: ParzenClient | None = None
    registry: Registry | None = None
    worker_id: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    timings: list[TrialTiming] = field(default_factory=list)
    _shutdown: threading.Event = field(default_factory=threading.Event)
    _failures_in_a_row: Counter[str] = field(default_factory=Counter)
    _given_up: dict[str, str] = field(default_factory=dict)

    def run(self) -> int:
        from worker.backend import configure_devices
        from worker.registry import Registry

        self._install_signal_handlers()
        configure_devices()
        self.registry = self.registry or Registry.default(self.config.modules)
        self.client = self.client or ParzenClient(
            self.config.url, self.config.token, retry_seconds=self.config.retry_seconds
        )
        self.worker_id = self._register()
        import keras

        log.info(
            "worker %s serving %s on Keras %s (%s backend)",
            self.worker_id,
            self.config.url,
            keras.__version__,
            keras.backend.backend(),
        )
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
            ask = self.client.lease(self.worker_id, exclude=sorted(self._given_up))
            if ask.trial is not None:
                self._run_trial(ask.trial, asked)
            elif ask.evaluation is not None:
                self._run_evaluation(ask.evaluation)
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

    def _register(self) -> str:
        assert self.client is not None and self.registry is not None
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
        outcome, fit_seconds, callback_seconds = self._train_and_tell(trial)
        self.counts[outcome] += 1
        rss = psutil.Process().memory_info().rss
        total = time.perf_counter() - asked
        self.timings.append(
            TrialTiming(
                trial.number, outcome, started - asked, total, fit_seconds, callback_seconds, rss
            )
        )
        log.info("trial %s #%d: %s in %.1f s", trial.study, trial.number, outcome, total)
        self._count_failure(trial.study, outcome)

    def _train_and_tell(self, trial: Trial) -> tuple[Outcome, float, float]:
        from worker.callbacks import TrialFailed
        from worker.trainer import Objective, train_trial

        assert self.client is not None and self.registry is not None
        reporter = _Reporter(self.client, trial, self._shutdown)
        try:
            objective = Objective.from_dict(
                {k: v for k, v in trial.objective.items() if v is not None},
                metric=trial.metric,
                direction="maximize" if trial.direction == "maximize" else "minimize",
            )
            data = self.registry.load_search(objective.dataset, objective.split)
            builder = self.registry.builder(objective.builder)
            client = self.client
            beat = _Heartbeat(
                lambda: client.heartbeat(trial.id, attempt=trial.attempt), trial.lease_seconds
            )
            with beat:
                result = train_trial(
                    params=trial.params,
                    objective=objective,
                    data=data,
                    builder=builder,
                    reporter=reporter,
                    artifact_dir=self._trial_dir(self.config.artifact_dir, trial),
                    log_dir=self._tensorboard_dir(trial, objective.tensorboard),
                )
                reporter.close()  # every epoch on record before the tell
        except TrialFailed as exc:
            return self._tell_failed(trial, str(exc), exc.traceback), 0.0, 0.0
        except Exception as exc:
            return self._tell_failed(trial, f"{type(exc).__name__}: {exc}", None), 0.0, 0.0
        finally:
            reporter.close(raise_error=False)
        if reporter.stopped_by == "shutdown":
            self.client.release(trial.id, attempt=trial.attempt)
            return "released", result.fit_seconds, result.callback_seconds
        metrics: dict[str, object] = {
            **result.metrics,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "fit_seconds": result.fit_seconds,
            "artifact": str(result.artifact) if result.artifact else None,
        }
        state: Literal["complete", "pruned"] = "pruned" if result.pruned else "complete"
        try:
            if state == "complete" and result.artifact is not None:
                # Before the tell: a complete trial's checkpoint is there for finalization.
                self.client.upload_artifact(trial.id, result.artifact)
            self.client.tell(trial.id, state, result.value, metrics=metrics, attempt=trial.attempt)
        except ParzenError as exc:
            if exc.status_code != 409:
                raise
            log.warning("trial %s #%d was taken away: %s", trial.study, trial.number, exc)
            return "lost", result.fit_seconds, result.callback_seconds
        return state, result.fit_seconds, result.callback_seconds

    def _run_evaluation(self, job: dict[str, Any]) -> None:
        """A finalization: score the candidates on the sealed test split (worker/evaluation)."""
        from worker.evaluation import evaluate

        assert self.client is not None and self.registry is not None
        client, cache = self.client, self.config.artifact_dir / "evaluations" / str(job["id"])
        log.info("finalizing study %s: %d candidates", job["study"], len(job["candidates"]))
        try:
            with _Heartbeat(lambda: client.evaluation_heartbeat(job["id"]), job["lease_seconds"]):
                report = evaluate(
                    job,
                    registry=self.registry,
                    fetch_model=lambda tid: client.download_artifact(tid, cache / f"{tid}.keras"),
                )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
            log.warning("finalization %s failed: %s", job["id"], exc)
            client.finish_evaluation(job["id"], error=error[-50_000:])
            self.counts["evaluation failed"] += 1
            return
        client.finish_evaluation(job["id"], report=report)
        self.counts["evaluation"] += 1

    def _tell_failed(self, trial: Trial, message: str, details: str | None) -> Outcome:
        assert self.client is not None
        error = message + "\n\n" + (details or traceback.format_exc())
        log.warning("trial %s #%d failed: %s", trial.study, trial.number, message)
        try:
            self.client.tell(trial.id, "failed", error=error[-50_000:], attempt=trial.attempt)
        except ParzenError as exc:
            if exc.status_code != 409:
                raise
            return "lost"
        return "failed"

    def _count_failure(self, study: str, outcome: Outcome) -> None:
        if outcome != "failed":
            self._failures_in_a_row[study] = 0
            return
        self._failures_in_a_row[study] += 1
        if self._failures_in_a_row[study] >= self.config.max_failures:
            reason = f"{self.config.max_failures} trials failed in a row"
            self._given_up[study] = reason
            log.error("worker stops leasing study %s: %s (see the trials' errors)", study, reason)

    @staticmethod
    def _trial_dir(root: Path, trial: Trial) -> Path:
        return root / trial.study / f"trial-{trial.number}-attempt-{trial.attempt}"

    def _tensorboard_dir(self, trial: Trial, wanted: bool) -> Path | None:
        if not wanted:
            return None
        root = self.config.tensorboard_dir or self.config.artifact_dir / "tensorboard"
        return self._trial_dir(root, trial)

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
