"""`with client.start_trial("study") as trial:` — Parzen from any training script.

The block gets one trial of the study (asking again while the budget is in flight). While it
runs, a heartbeat renews the lease and reports go out from a thread of their own (the
worker's `TrialReporter` and `Heartbeat`), so `fit` never waits on the network. Leaving the
block tells the trial: `complete` with the value set by `trial.tell(value)`, else the best
value of the study's metric among the reports; `pruned` when the server said stop (or the
script raised `TrialPruned`); `failed` with the traceback when the block raised.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from parzen.worker.client import ParzenClient, Trial
from parzen.worker.reporting import Heartbeat, TrialReporter

if TYPE_CHECKING:
    from parzen.worker.callbacks import ReportingCallback

TellState = Literal["complete", "pruned", "failed"]


class NoTrialAvailable(Exception):
    """The study gives no more trials: its budget is spent, or it is stopped or paused."""

    def __init__(self, study: str, status: str, reason: str) -> None:
        super().__init__(f"study {study!r} gives no trial: {status} {reason}".rstrip())
        self.status = status


class TrialPruned(Exception):
    """Raise inside `start_trial` to end the trial as pruned (as Optuna's `TrialPruned`)."""


class TrialSession:
    """One trial of a study, run by the user's own code; see the module docstring."""

    def __init__(
        self,
        client: ParzenClient,
        study: str,
        *,
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        wait_seconds: float | None = None,
    ) -> None:
        self.client, self.study = client, study
        self._worker_id, self._poll, self._wait = worker_id, poll_seconds, wait_seconds
        self._trial: Trial | None = None
        self._reporter: TrialReporter | None = None
        self._heartbeat: Heartbeat | None = None
        self._values: list[float] = []
        self._value: float | None = None
        self._metrics: dict[str, Any] = {}
        self.state: TellState | None = None  # what leaving the block told

    # -- what the script reads ------------------------------------------------------------

    @property
    def trial(self) -> Trial:
        if self._trial is None:
            raise RuntimeError("the trial starts when the `with` block is entered")
        return self._trial

    @property
    def params(self) -> dict[str, Any]:
        """The trial's parameters (nested: a branch's parameters only when it is chosen)."""
        return self.trial.params

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def should_prune(self) -> bool:
        """True once the server has answered a report with stop (pruned or taken away)."""
        return self._reporter is not None and self._reporter.stopped_by == "server"

    # -- what the script does -------------------------------------------------------------

    def report(self, step: int, values: Mapping[str, float]) -> bool:
        """Send one step's metrics (from a background thread); True means stop training."""
        value = values.get(self.trial.metric)
        if value is not None and math.isfinite(value):
            self._values.append(float(value))
        assert self._reporter is not None
        return self._reporter.report(step, values)

    def keras_callback(self) -> ReportingCallback:
        """A Keras callback that reports every epoch and stops `fit` when the server prunes."""
        from parzen.worker.callbacks import ReportingCallback

        return ReportingCallback(self)

    def tell(self, value: float, metrics: Mapping[str, Any] | None = None) -> None:
        """The trial's result, told when the block ends (else the best reported value)."""
        self._value = float(value)
        self._metrics = dict(metrics or {})

    # -- the block ------------------------------------------------------------------------

    def __enter__(self) -> TrialSession:
        started = time.monotonic()
        while True:
            ask = self.client.ask(self.study, worker_id=self._worker_id)
            if ask.trial is not None:
                break
            if ask.status != "wait" or (
                self._wait is not None and time.monotonic() - started > self._wait
            ):
                raise NoTrialAvailable(self.study, ask.status, ask.reason)
            time.sleep(self._poll)
        trial = self._trial = ask.trial
        self._reporter = TrialReporter(self.client, trial, threading.Event())

        def beat() -> bool:
            return self.client.heartbeat(
                trial.id, lease_token=trial.lease_token, attempt=trial.attempt
            )

        self._heartbeat = Heartbeat(beat, trial.lease_seconds, on_error=self._reporter.fail)
        self._heartbeat.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._reporter is not None and self._heartbeat is not None
        trial = self.trial
        try:
            self._reporter.close(raise_error=exc is None)
        finally:
            self._heartbeat.__exit__(None, None, None)
        if exc is not None and not isinstance(exc, TrialPruned):
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self._tell("failed", None, error=text)
            return False  # the script's error goes on up
        best = self._best()
        if isinstance(exc, TrialPruned) or self.should_prune:
            self._tell("pruned", best)
            return True
        value = self._value if self._value is not None else best
        if value is None:
            self._tell("failed", None, error=f"no value of {trial.metric!r} was reported")
        else:
            self._tell("complete", value)
        return False

    def _best(self) -> float | None:
        if not self._values:
            return None
        return max(self._values) if self.trial.direction == "maximize" else min(self._values)

    def _tell(self, state: TellState, value: float | None, *, error: str | None = None) -> None:
        trial = self.trial
        self.state = state
        self.client.tell(
            trial.id,
            state,
            value,
            lease_token=trial.lease_token,
            attempt=trial.attempt,
            metrics=self._metrics,
            error=error,
        )
