"""One trial: build the model, fit it with the standard callbacks, return the best epoch."""

from __future__ import annotations

import importlib.util
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import keras

from parzen.worker.backend import is_out_of_memory, reset_keras_state
from parzen.worker.builders.base import Builder
from parzen.worker.callbacks import (
    BestEpochCheckpoint,
    FailureKind,
    GuardCallback,
    Reporter,
    ReportingCallback,
    TrialFailed,
)
from parzen.worker.datasets.base import SearchData, SplitSpec

logger = logging.getLogger(__name__)

Direction = Literal["minimize", "maximize"]
CHECKPOINT_NAME = "best.keras"


@dataclass(frozen=True)
class Objective:
    """What a study trains and watches; built from the study's JSON by `from_dict`."""

    builder: str
    dataset: str
    metric: str = "val_loss"
    direction: Direction = "minimize"
    max_epochs: int = 20
    batch_size: int = 32
    patience: int = 3
    min_delta: float = 0.0
    reduce_lr: bool = False
    tensorboard: bool = False
    split: SplitSpec = field(default_factory=SplitSpec)

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(
                f"objective direction must be 'minimize' or 'maximize', got {self.direction!r}"
            )
        for name, least in (("max_epochs", 1), ("batch_size", 1), ("patience", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"objective {name} must be an integer >= {least}, got {value!r}")
        if self.min_delta < 0:
            raise ValueError(f"objective min_delta must be >= 0, got {self.min_delta}")

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, object],
        *,
        metric: str | None = None,
        direction: Direction | None = None,
    ) -> Objective:
        """The objective of a study's JSON; the study's metric and direction may be given
        apart from it. `split` is a dict of `SplitSpec` fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown objective keys: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = dict(data)
        for key, given in (("metric", metric), ("direction", direction)):
            if given is None:
                continue
            if key in values and values[key] != given:
                raise ValueError(
                    f"objective {key} {values[key]!r} contradicts the study's {given!r}"
                )
            values[key] = given
        missing = [key for key in ("builder", "dataset") if not isinstance(values.get(key), str)]
        if missing:
            raise ValueError(f"objective needs {' and '.join(missing)} (a name)")
        if "split" in values:
            values["split"] = _split_spec(values["split"])
        for key in ("min_delta",):
            if isinstance(values.get(key), int) and not isinstance(values[key], bool):
                values[key] = float(values[key])
        return cls(**values)


def _split_spec(value: object) -> SplitSpec:
    if isinstance(value, SplitSpec):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"objective split must be an object, got {value!r}")
    known = {f.name for f in fields(SplitSpec)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"unknown objective split keys: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return SplitSpec(**value)


@dataclass(frozen=True)
class TrainResult:
    value: float
    best_epoch: int
    epochs_run: int
    metrics: dict[str, float]
    pruned: bool
    artifact: Path | None
    fit_seconds: float
    callback_seconds: float = 0.0  # of fit_seconds, spent reporting and saving checkpoints
    build_seconds: float = 0.0  # before fit: the builder's call (its compile included)


def train_trial(
    *,
    params: Mapping[str, Any],
    objective: Objective,
    data: SearchData,
    builder: Builder,
    reporter: Reporter,
    artifact_dir: Path,
    log_dir: Path | None = None,
    seed: int | None = None,
) -> TrainResult:
    """Train one trial; raise `TrialFailed` for anything that leaves it without a result.

        Exceptions raised by `reporter` pass through unchanged, as do KeyboardInterrupt and
        SystemExit. Keras state is cleared after each trial (once: a clear costs a full garbage
    collection), so the next trial starts without this one's graphs.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    try:
        return _train(params, objective, data, builder, reporter, artifact_dir, log_dir)
    finally:
        reset_keras_state()


def _train(
    params: Mapping[str, Any],
    objective: Objective,
    data: SearchData,
    builder: Builder,
    reporter: Reporter,
    artifact_dir: Path,
    log_dir: Path | None,
) -> TrainResult:
    building = time.perf_counter()
    model = _build(builder, params, objective, data)
    build_seconds = time.perf_counter() - building
    artifact_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = artifact_dir / CHECKPOINT_NAME
    # A retried trial reuses its directory; an earlier attempt's file must not pass as ours.
    checkpoint.unlink(missing_ok=True)
    mode = "min" if objective.direction == "minimize" else "max"
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=objective.metric,
        mode=mode,
        patience=objective.patience,
        min_delta=objective.min_delta,
        restore_best_weights=True,
    )
    reporting = ReportingCallback(reporter)
    saving = BestEpochCheckpoint(early_stopping, checkpoint)
    callbacks = [
        GuardCallback(objective.metric),
        early_stopping,
        saving,
        keras.callbacks.TerminateOnNaN(),
        *_optional_callbacks(objective, mode, log_dir),
        reporting,
    ]
    started = time.perf_counter()
    try:
        history = model.fit(
            data.train.x,
            data.train.y,
            validation_data=(data.validation.x, data.validation.y),
            epochs=objective.max_epochs,
            batch_size=objective.batch_size,
            callbacks=callbacks,
            verbose=0,
        )
    except TrialFailed:
        raise
    except Exception as exc:
        if exc is reporting.error:
            raise
        raise _failure(exc, "training failed") from exc
    fit_seconds = time.perf_counter() - started

    # EarlyStopping's best epoch is the one whose weights it restored; its min_delta rule is
    # the only definition of "best" that agrees with the weights and the checkpoint.
    best = int(early_stopping.best_epoch)
    logs = {key: float(values[best]) for key, values in history.history.items()}
    return TrainResult(
        value=logs[objective.metric],
        best_epoch=best + 1,
        epochs_run=len(history.epoch),
        metrics=logs,
        pruned=reporting.stopped_by_reporter,
        artifact=checkpoint if checkpoint.exists() else None,
        fit_seconds=fit_seconds,
        callback_seconds=reporting.seconds + saving.seconds,
        build_seconds=build_seconds,
    )


def _build(
    builder: Builder, params: Mapping[str, Any], objective: Objective, data: SearchData
) -> keras.Model:
    try:
        model = builder(params, data.info)
    except Exception as exc:
        raise _failure(exc, f"builder {objective.builder!r} failed", kind="builder") from exc
    if not isinstance(model, keras.Model):
        raise TrialFailed(
            f"builder {objective.builder!r} returned {type(model).__name__}, not a keras.Model",
            kind="builder",
        )
    if not model.compiled:
        raise TrialFailed(
            f"builder {objective.builder!r} returned an uncompiled model; compile it "
            "(worker.builders.compile_for_task picks the loss and metrics of the task)",
            kind="builder",
        )
    return model


def _optional_callbacks(
    objective: Objective, mode: str, log_dir: Path | None
) -> list[keras.callbacks.Callback]:
    extra: list[keras.callbacks.Callback] = []
    if objective.reduce_lr:
        extra.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=objective.metric,
                mode=mode,
                factor=0.5,
                patience=max(1, objective.patience // 2),
                min_delta=objective.min_delta,
            )
        )
    if objective.tensorboard:
        if log_dir is None:
            logger.warning("objective asks for TensorBoard but the worker gave no log_dir")
        elif keras.backend.backend() != "tensorflow":
            logger.warning(
                "TensorBoard logs need the tensorflow backend; running on %s without them",
                keras.backend.backend(),
            )
        elif importlib.util.find_spec("tensorboard") is None:
            # tensorflow-cpu does not pull tensorboard in; writing would fail mid-fit.
            logger.warning("TensorBoard logs need the tensorboard package; running without them")
        else:
            extra.append(keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    return extra


def _failure(exc: Exception, context: str, *, kind: FailureKind = "error") -> TrialFailed:
    text = traceback.format_exc()
    if is_out_of_memory(exc):
        return TrialFailed(
            f"out of memory ({type(exc).__name__}); try a smaller batch_size or model: {exc}",
            kind="oom",
            traceback=text,
        )
    return TrialFailed(f"{context}: {type(exc).__name__}: {exc}", kind=kind, traceback=text)
