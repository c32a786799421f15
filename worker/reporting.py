"""A trial's contact with the server while it trains: reports from a thread of their own,
and a heartbeat for epochs longer than the lease. Kept apart from the daemon's loop (issue 16),
so that each can be read on its own."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Literal

from worker.client import ParzenClient, Trial

log = logging.getLogger("parzen.worker")


class TrialReporter:
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


class Heartbeat:
    """Keeps a lease alive through epochs (or evaluations) longer than the lease."""

    def __init__(self, beat: Callable[[], object], lease_seconds: float) -> None:
        self._beat_once, self._interval = beat, max(lease_seconds / 3, 0.5)
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
            except Exception:  # the next report retries; a beat is best effort
                log.warning("heartbeat failed", exc_info=True)
