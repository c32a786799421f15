"""Callbacks of a trial's fit that Keras does not ship: reporting, guards, checkpoint."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import keras


class Reporter(Protocol):
    def report(self, step: int, values: Mapping[str, float]) -> bool:
        """Record one epoch's metrics; True means stop (pruned, or the trial was taken away)."""
        ...


FailureKind = Literal["builder", "nan", "metric", "oom", "error"]


class TrialFailed(Exception):
    """The trial cannot give a result; `kind` says why, `traceback` has the cause's text."""

    def __init__(
        self, message: str, *, kind: FailureKind = "error", traceback: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.traceback = traceback


def float_logs(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The scalar entries of Keras logs as floats."""
    values: dict[str, float] = {}
    for key, value in (logs or {}).items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


class ReportingCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Posts each epoch's finite logs as step = epoch (1-based); stops when told to.

    An exception from the reporter is kept in `error`, so that the trainer can let it
    through as it is: a lost server is not the trial's failure.
    """

    def __init__(self, reporter: Reporter) -> None:
        super().__init__()
        self.reporter = reporter
        self.stopped_by_reporter = False
        self.error: Exception | None = None
        self.seconds = 0.0  # spent reporting: the worker's overhead inside fit

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        # JSON has no NaN or inf; the guard fails the trial when they matter.
        values = {k: v for k, v in float_logs(logs).items() if math.isfinite(v)}
        started = time.perf_counter()
        try:
            stop = self.reporter.report(epoch + 1, values)
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self.seconds += time.perf_counter() - started
        if stop:
            self.stopped_by_reporter = True
            self.model.stop_training = True


class GuardCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Fails the trial at the first epoch whose loss or monitored metric is not finite, or
    whose logs lack the monitored metric. Goes first, so nothing acts on such an epoch."""

    def __init__(self, metric: str) -> None:
        super().__init__()
        self.metric = metric

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        values = float_logs(logs)
        for key in ("loss", self.metric):
            value = values.get(key)
            if value is not None and not math.isfinite(value):
                shown = "NaN" if math.isnan(value) else str(value)
                raise TrialFailed(f"{key} became {shown} at epoch {epoch + 1}", kind="nan")
        if self.metric not in values:
            available = ", ".join(sorted(values)) or "none"
            raise TrialFailed(
                f"metric {self.metric!r} is not in the Keras logs; available: {available}",
                kind="metric",
            )


class BestEpochCheckpoint(keras.callbacks.Callback):  # type: ignore[misc]
    """Saves the model of `early_stopping`'s best epoch, once, when training ends.

    Must follow `early_stopping` in the callback list: its on_train_end restores the best
    weights (Keras 3 does so whether or not training stopped early), so one save at the end
    holds that epoch. Saving at every new best, as ModelCheckpoint(save_best_only=True)
    does, cost a save per improving epoch (about 1.5 s of a 20 s trial in
    bench/worker_overhead.py), and ModelCheckpoint also ignores `min_delta`.
    """

    def __init__(self, early_stopping: keras.callbacks.EarlyStopping, path: Path) -> None:
        super().__init__()
        self.early_stopping = early_stopping
        self.path = path
        self.seconds = 0.0  # spent saving: the worker's overhead inside fit

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.early_stopping.best_weights is None:
            return  # not one epoch gave the metric: nothing to keep
        started = time.perf_counter()
        self.model.save(self.path)
        self.seconds += time.perf_counter() - started
