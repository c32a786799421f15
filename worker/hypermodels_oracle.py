"""`ParzenOracle`: a KerasTuner oracle whose trials are a Parzen study's.

    tuner = keras_tuner.Tuner(
        hypermodel=build,
        oracle=ParzenOracle(
            study="cnn", objective="val_accuracy", max_trials=100, url=..., token=...
        ),
    )
    tuner.search(x, y, validation_data=(xv, yv), callbacks=[tuner.oracle.callback()])

Every process running the tuner is a worker of the same study through the REST API: its
`create_trial` asks the study for a trial (the first to find no study creates it from the
tuner's space), a heartbeat renews the lease while the trial trains, `end_trial` tells the
result and uploads the best checkpoint. A process that dies loses its lease, and the trial
goes back to the queue for another process (up to the study's max_attempts). With
`oracle.callback()` among the search's callbacks, every epoch is reported and the study's
pruner can stop a trial. `get_best_trials` (so `tuner.get_best_hyperparameters()` and
`get_best_models()`) reads the study's best trials, from whichever machine ran them.
"""

from __future__ import annotations

import io
import logging
import math
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import keras
import keras_tuner
from keras_tuner.engine import trial as trial_module

from parzen.worker.client import ParzenClient, ParzenError, Trial
from parzen.worker.hypermodels import build_function
from parzen.worker.hypermodels_hp import Condition, Declaration, Kind
from parzen.worker.hypermodels_space import (
    Node,
    build_tree,
    record_space,
    render_space,
    values_from_params,
)
from parzen.worker.reporting import Heartbeat

log = logging.getLogger("parzen.worker")
Status = trial_module.TrialStatus
CHECKPOINT_FILES = ("checkpoint.weights.h5", "checkpoint", "build_config.json")


def declarations_of(hyperparameters: keras_tuner.HyperParameters) -> list[Declaration]:
    """KerasTuner's recorded space (`oracle.hyperparameters.space`) as declarations."""
    out = []
    for hp in hyperparameters.space:
        config = hp.get_config()
        kind = cast(Kind, type(hp).__name__.lower())
        conditions = tuple(Condition(c.name, tuple(c.values)) for c in hp.conditions)
        values: tuple[Any, ...] = tuple(config.get("values") or ())
        if kind == "boolean":
            values = (False, True)
        if kind == "fixed":
            config["default"] = config["value"]
        out.append(
            Declaration(
                name=hp.name,
                kind=kind,
                default=config.get("default"),
                low=config.get("min_value"),
                high=config.get("max_value"),
                step=config.get("step"),
                sampling="log" if config.get("sampling") == "log" else "linear",
                values=values,
                conditions=conditions,
            )
        )
    return out


class ParzenOracle(keras_tuner.Oracle):  # type: ignore[misc]
    """A `keras_tuner.Oracle` backed by the Parzen study `study` (see the module docstring).

    `objective`, `max_trials` and the other KerasTuner arguments mean what they mean for
    any oracle; `max_trials` (and `max_parallel`, `lease_seconds`, `max_attempts`,
    `algorithm`, `pruner`) only count when this oracle creates the study. The study's space
    is the one the tuner found (KerasTuner builds once per conditional scope); pass the
    `hypermodel` too to record it the Parzen way, which also finds declarations that only
    appear for other values of earlier ones (`for i in range(hp.Int("layers", 1, 3))`).
    """

    def __init__(
        self,
        study: str,
        objective: Any = None,
        max_trials: int | None = None,
        url: str | None = None,
        token: str | None = None,
        *,
        max_parallel: int = 8,
        lease_seconds: float | None = None,
        max_attempts: int | None = None,
        algorithm: str | None = None,
        pruner: Mapping[str, Any] | None = None,
        poll_seconds: float = 1.0,
        hypermodel: Any = None,
        client: ParzenClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(objective=objective, max_trials=max_trials, **kwargs)
        self.study = study
        self.client = client or ParzenClient(url, token)
        self._create = {
            "max_parallel": max_parallel,
            "lease_seconds": lease_seconds,
            "max_attempts": max_attempts,
            "algorithm": algorithm,
            "pruner": dict(pruner) if pruner else None,
        }
        self.poll_seconds = poll_seconds
        self._running: dict[str, tuple[Trial, Heartbeat]] = {}  # KerasTuner trial id ->
        self._stop_asked: set[str] = set()
        self._tree: list[Node] | None = None
        self._hypermodel = hypermodel

    # -- the study ------------------------------------------------------------------------

    def parzen_space(self) -> dict[str, Any]:
        """The Parzen search space of the tuner's hyperparameters."""
        return render_space(self._nodes())

    def _nodes(self) -> list[Node]:
        if self._tree is None:
            declared = (
                record_space(build_function(self._hypermodel))
                if self._hypermodel is not None
                else declarations_of(self.hyperparameters)
            )
            self._tree = build_tree(declared)
        return self._tree

    def _ensure_study(self) -> None:
        try:
            self.client.get_study(self.study)
            return
        except ParzenError as exc:
            if exc.status_code != 404:
                raise
        direction = "maximize" if self.objective.direction == "max" else "minimize"
        spec: dict[str, Any] = {
            "name": self.study,
            "direction": direction,
            "metric": self.objective.name,
            "space": self.parzen_space(),
            "budget": {
                "max_trials": self.max_trials or 100,
                "max_parallel": self._create["max_parallel"],
            },
            **{k: v for k, v in self._create.items() if k != "max_parallel" and v is not None},
        }
        try:
            self.client.create_study(spec)
        except ParzenError as exc:
            if exc.status_code != 409:  # another process created it first: use that one
                raise

    # -- KerasTuner's oracle interface ----------------------------------------------------

    def create_trial(self, tuner_id: str) -> Any:
        """The study's next trial for this process (IDLE while its budget is in flight,
        STOPPED once the study gives no more)."""
        if tuner_id in self.ongoing_trials:
            return self.ongoing_trials[tuner_id]
        self._ensure_study()
        ask = self.client.ask(self.study, worker_id=None)
        hyperparameters = self.hyperparameters.copy()
        if ask.trial is None:
            if ask.status in ("wait", "paused"):
                time.sleep(self.poll_seconds)
                return trial_module.Trial(hyperparameters, status=Status.IDLE)
            return trial_module.Trial(hyperparameters, status=Status.STOPPED)
        parzen = ask.trial
        hyperparameters.values = values_from_params(self._nodes(), parzen.params)
        trial = trial_module.Trial(
            hyperparameters, trial_id=f"{parzen.number:04d}", status=Status.RUNNING
        )
        self._running[trial.trial_id] = (parzen, self._heartbeat(parzen).__enter__())
        self.ongoing_trials[tuner_id] = trial
        self.trials[trial.trial_id] = trial
        self.start_order.append(trial.trial_id)
        self._save_trial(trial)
        self.save()
        self._display.on_trial_begin(trial)
        return trial

    def report_epoch(self, trial_id: str, step: int, logs: Mapping[str, Any]) -> bool:
        """Report one epoch of a running trial; True means stop training (pruned)."""
        parzen, _ = self._running[trial_id]
        values = {k: float(v) for k, v in logs.items() if _finite(v)}
        stop = self.client.report(
            parzen.id, step, values, lease_token=parzen.lease_token, attempt=parzen.attempt
        )
        if stop:
            self._stop_asked.add(trial_id)
        return stop

    def end_trial(self, trial: Any) -> None:
        """Tell the study the trial's result (complete, pruned or failed) and upload its
        best checkpoint, so that any machine can load the model."""
        kept = self.trials[trial.trial_id]
        kept.hyperparameters, kept.status, kept.message = (
            trial.hyperparameters,
            trial.status,
            trial.message,
        )
        parzen, heartbeat = self._running.pop(trial.trial_id)
        heartbeat.__exit__(None, None, None)
        if kept.status == Status.COMPLETED:
            self.score_trial(kept)
            if kept.score is None or not math.isfinite(kept.score):
                kept.status = Status.INVALID
        self._tell(parzen, kept)
        self.end_order.append(kept.trial_id)
        self._save_trial(kept)
        self.save()
        self._display.on_trial_end(kept)
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing.trial_id == kept.trial_id:
                self.ongoing_trials.pop(tuner_id)

    def get_best_trials(self, num_trials: int = 1) -> list[Any]:
        """The study's best complete trials (from every machine), as KerasTuner trials;
        their checkpoints are fetched from the server when this machine lacks them."""
        order = "-value" if self.objective.direction == "max" else "value"
        page = self.client.trials(self.study, state=["complete"], order=order, limit=num_trials)
        best = []
        for raw in page["data"]:
            trial = self._trial_of(raw)
            self._fetch_checkpoint(raw, trial.trial_id)
            best.append(trial)
        return best

    def callback(self) -> keras.callbacks.Callback:
        """A Keras callback for `tuner.search(..., callbacks=[...])`: reports every epoch of
        the running trial and stops its fit when the study's pruner says so."""
        return _EpochReports(self)

    # -- helpers --------------------------------------------------------------------------

    def _heartbeat(self, parzen: Trial) -> Heartbeat:
        def beat() -> bool:
            return self.client.heartbeat(
                parzen.id, lease_token=parzen.lease_token, attempt=parzen.attempt
            )

        return Heartbeat(beat, parzen.lease_seconds)

    def _tell(self, parzen: Trial, trial: Any) -> None:
        pruned = trial.trial_id in self._stop_asked
        metrics = {name: trial.metrics.get_best_value(name) for name in trial.metrics.metrics}
        write: dict[str, Any] = {"lease_token": parzen.lease_token, "attempt": parzen.attempt}
        try:
            if trial.status == Status.COMPLETED:
                state: Literal["pruned", "complete"] = "pruned" if pruned else "complete"
                self.client.tell(parzen.id, state, trial.score, metrics=metrics, **write)
                self._upload_checkpoint(parzen, trial.trial_id)
            else:
                error = trial.message or f"KerasTuner marked the trial {trial.status}"
                self.client.tell(parzen.id, "failed", None, error=error, **write)
        except ParzenError as exc:
            if exc.status_code != 409:
                raise
            log.warning("trial %s was taken away: %s", parzen.number, exc)

    def _trial_dir(self, trial_id: str) -> Path:
        return Path(self._get_trial_dir(trial_id))

    def _upload_checkpoint(self, parzen: Trial, trial_id: str) -> None:
        folder = self._trial_dir(trial_id)
        files = [folder / name for name in CHECKPOINT_FILES if (folder / name).is_file()]
        if not files:
            return
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in files:
                archive.write(path, path.name)
        packed = folder / "parzen-checkpoint.zip"
        packed.write_bytes(buffer.getvalue())
        self.client.upload_artifact(parzen.id, packed, lease_token=parzen.lease_token)

    def _fetch_checkpoint(self, raw: Mapping[str, Any], trial_id: str) -> None:
        folder = self._trial_dir(trial_id)
        if any((folder / name).is_file() for name in CHECKPOINT_FILES[:2]) or not raw["artifact"]:
            return
        packed = self.client.download_artifact(raw["id"], folder / "parzen-checkpoint.zip")
        with zipfile.ZipFile(packed) as archive:
            for name in archive.namelist():
                if name in CHECKPOINT_FILES:
                    (folder / name).write_bytes(archive.read(name))

    def _trial_of(self, raw: Mapping[str, Any]) -> Any:
        trial_id = f"{raw['number']:04d}"
        hyperparameters = self.hyperparameters.copy()
        hyperparameters.values = values_from_params(self._nodes(), raw["params"])
        trial = trial_module.Trial(hyperparameters, trial_id=trial_id, status=Status.COMPLETED)
        trial.score = raw["value"]
        trial.best_step = max((raw.get("last_step") or 1) - 1, 0)
        name = self.objective.name
        trial.metrics.register(name, direction=self.objective.direction)
        trial.metrics.update(name, raw["value"], step=trial.best_step)
        self.trials.setdefault(trial_id, trial)
        return trial


class _EpochReports(keras.callbacks.Callback):  # type: ignore[misc]
    """Reports each epoch of the oracle's running trial; stops fit when told to. KerasTuner
    deep-copies the search's callbacks for every trial: the copies share the oracle."""

    def __init__(self, oracle: ParzenOracle) -> None:
        super().__init__()
        self.oracle = oracle

    def __deepcopy__(self, memo: dict[int, Any]) -> _EpochReports:
        return _EpochReports(self.oracle)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        running = list(self.oracle._running)
        if len(running) == 1 and self.oracle.report_epoch(running[0], epoch + 1, logs or {}):
            self.model.stop_training = True


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


__all__ = ["ParzenOracle", "declarations_of"]
