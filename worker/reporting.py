"""A trial's contact with the server while it trains: reports from a thread of their own,
a heartbeat for epochs longer than the lease, and where the trial's time went. Kept apart
from the daemon's loop (issue 16), so that each can be read on its own.

What the server refuses, or cannot hear, is a `ServiceError`: not the trial's failure. The
daemon tells it apart from `TrialFailed` and from the errors of build and fit, as KerasTuner's
`_try_run_and_update_trial` tells a trial's own error from the oracle's.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from parzen.worker import metrics as worker_metrics
from parzen.worker.client import ParzenError, ServerUnavailable, Trial
from parzen.worker.protocol import WorkerService

log = logging.getLogger("parzen.worker")

# What the client raises when the server refuses a request (4xx) or stays unreachable (a 5xx
# or no connection for longer than the client's retry_seconds).
SERVICE_ERRORS = (ParzenError, httpx.TransportError, ServerUnavailable)
EX_UNAVAILABLE, EX_NOPERM = 69, 77  # sysexits.h: the server is gone; the token is refused

Outcome = Literal["complete", "pruned", "failed", "released", "lost"]


@dataclass(frozen=True)
class TrialTiming:
    """Where a trial's time went, for bench/worker_overhead.py and worker/metrics.py."""

    number: int
    outcome: Outcome
    lease_seconds: float  # asking the server for this trial
    total_seconds: float  # from asking to told, lease included
    fit_seconds: float  # inside model.fit, our callbacks included
    callback_seconds: float  # of fit_seconds: reporting and checkpoint saving
    build_seconds: float  # the builder's call, its compile included: part of the overhead
    rss_bytes: int  # resident memory after the trial

    @property
    def overhead_seconds(self) -> float:
        """Everything but the training itself: lease, build, reports, saving, tell."""
        return self.total_seconds - (self.fit_seconds - self.callback_seconds)


class ServiceError(Exception):
    """A request about a trial (or for work) that the service refused or could not hear.

    `fatal`: this worker cannot go on (its token is refused, or the server is unreachable past
    the retries) and exits with `exit_code`. Otherwise the trial is over for this worker (its
    study or trial is gone: 404; it was taken away: 409) and the daemon leases the next one.
    """

    def __init__(self, action: str, cause: BaseException) -> None:
        self.action, self.cause = action, cause
        self.status_code = cause.status_code if isinstance(cause, ParzenError) else None
        super().__init__(f"{action}: {self.what}")

    @property
    def what(self) -> str:
        code = self.status_code
        if code is None:
            return f"the server is unreachable ({self.cause})"
        if code == 404:
            return f"the study or trial is gone ({self.cause})"
        if code == 409:
            return f"the trial was taken away ({self.cause})"
        if code in (401, 403):
            return f"the server refuses this worker's token ({self.cause})"
        return f"the server refused it ({self.cause})"

    @property
    def next_step(self) -> str:
        if self.status_code is None:
            return "to go on, start it again once the server answers"
        if self.status_code in (401, 403):
            return (
                "to go on, start it with a valid worker token (parzen token create --role worker)"
            )
        return "see the server's answer"

    @property
    def fatal(self) -> bool:
        return self.status_code in (None, 401, 403)

    @property
    def exit_code(self) -> int:
        if self.status_code is None:
            return EX_UNAVAILABLE
        return EX_NOPERM if self.status_code in (401, 403) else 1

    @property
    def can_release(self) -> bool:
        """Whether handing the trial back can still work: not when it is gone or taken away
        (nothing to release), nor when the token is refused or the server is unreachable."""
        return self.status_code not in (None, 401, 403, 404, 409)


class TrialReporter:
    """Posts each epoch's logs from a thread of its own, so that training never waits on the
    network; says stop once the server has said so (an epoch later, at most) or at shutdown.

    `close()` waits for the reports in flight, so that every epoch is recorded before the
    tell, and raises the first error a report met (as the next `report()` does). A report the
    service refuses (or a heartbeat's, through `fail`) is a `ServiceError`: raised from the
    next epoch's report, it stops the fit, and the trainer lets it through untouched.
    """

    def __init__(self, client: WorkerService, trial: Trial, shutdown: threading.Event) -> None:
        self.client, self.trial, self.shutdown = client, trial, shutdown
        self.stopped_by: Literal["", "server", "shutdown"] = ""
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[int, dict[str, float]] | None] = queue.SimpleQueue()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._send_all, daemon=True, name="reports")
        self._thread.start()

    def report(self, step: int, values: Mapping[str, float]) -> bool:
        worker_metrics.EPOCHS.inc()  # called once at the end of every epoch
        if self._error is not None:
            raise self._error
        if self.shutdown.is_set():
            self._stop("shutdown")
            return True
        self._queue.put((step, dict(values)))
        return self.stopped_by != ""

    def fail(self, error: Exception) -> None:
        """Stop the trial at its next epoch with this error (the first one is kept)."""
        with self._lock:
            self._error = self._error or error

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
                if self.client.report(
                    self.trial.id,
                    step,
                    values,
                    lease_token=self.trial.lease_token,
                    attempt=self.trial.attempt,
                ):
                    self._stop("server")
            except SERVICE_ERRORS as exc:
                self.fail(ServiceError("report", exc))
            except Exception as exc:
                self.fail(exc)

    def _stop(self, by: Literal["server", "shutdown"]) -> None:
        with self._lock:
            self.stopped_by = self.stopped_by or by


class Heartbeat:
    """Keeps a lease alive through epochs (or evaluations) longer than the lease.

    A beat the service refuses goes to `on_error` as a `ServiceError` (a trial's reporter
    stops the trial with it); without `on_error` it is logged, and the next beat tries again.
    """

    def __init__(
        self,
        beat: Callable[[], object],
        lease_seconds: float,
        on_error: Callable[[ServiceError], None] | None = None,
    ) -> None:
        self._beat_once, self._interval = beat, max(lease_seconds / 3, 0.5)
        self._on_error = on_error
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._beat_once()
            except SERVICE_ERRORS as exc:
                if self._on_error is None:
                    log.warning("heartbeat failed: %s", exc)
                    continue
                self._on_error(ServiceError("heartbeat", exc))
                return  # the trial stops: no more beats
            except Exception:  # the next report retries; a beat is best effort
                log.warning("heartbeat failed", exc_info=True)
