"""One leased trial, from its lease to its tell: build and train it while a reporter and a
heartbeat keep in touch with the service, then tell the result, keeping the trial's own
failure (told `failed`) apart from the service's errors (never told as a failure; see
worker/daemon.py for what the daemon does about each)."""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from parzen.worker.client import Trial
from parzen.worker.protocol import WorkerService
from parzen.worker.reporting import SERVICE_ERRORS, Heartbeat, Outcome, ServiceError, TrialReporter

if TYPE_CHECKING:
    from parzen.worker.registry import Registry

log = logging.getLogger("parzen.worker")


@dataclass(frozen=True)
class Spent:
    """Where a trial's time went inside the trainer; all zero when it never finished fit."""

    build_seconds: float = 0.0  # the builder's call, its compile included
    fit_seconds: float = 0.0  # inside model.fit, our callbacks included
    callback_seconds: float = 0.0  # of fit_seconds: reporting and checkpoint saving


NOT_TRAINED = Spent()


@dataclass(frozen=True)
class TrialRunner:
    """Runs the trials a daemon leases; `run` says how each ended and where the trainer's
    time went (build, fit and, of fit, our callbacks). A fatal service error is raised from
    it."""

    client: WorkerService
    registry: Registry
    shutdown: threading.Event  # set: the trial stops at its next epoch and is handed back
    artifact_dir: Path
    tensorboard_dir: Path | None = None

    def run(self, trial: Trial) -> tuple[Outcome, Spent]:
        """How the trial ended, and its seconds in build and fit."""
        from parzen.worker.callbacks import TrialFailed
        from parzen.worker.trainer import Objective, train_trial

        reporter = TrialReporter(self.client, trial, self.shutdown)
        try:
            objective = Objective.from_dict(
                {k: v for k, v in trial.objective.items() if v is not None},
                metric=trial.metric,
                direction="maximize" if trial.direction == "maximize" else "minimize",
            )
            data = self.registry.load_search(objective.dataset, objective.split)
            builder = self.registry.builder(objective.builder)
            beat = Heartbeat(
                lambda: self.client.heartbeat(
                    trial.id, lease_token=trial.lease_token, attempt=trial.attempt
                ),
                trial.lease_seconds,
                on_error=reporter.fail,
            )
            with beat:
                result = train_trial(
                    params=trial.params,
                    objective=objective,
                    data=data,
                    builder=builder,
                    reporter=reporter,
                    artifact_dir=self._trial_dir(self.artifact_dir, trial),
                    log_dir=self._tensorboard_dir(trial, objective.tensorboard),
                )
                reporter.close()  # every epoch on record before the tell
        except ServiceError as exc:  # from a report or heartbeat: not the trial's failure
            return self._service_error(trial, exc), NOT_TRAINED
        except TrialFailed as exc:
            return self._tell_failed(trial, str(exc), exc.traceback), NOT_TRAINED
        except Exception as exc:
            return self._tell_failed(trial, f"{type(exc).__name__}: {exc}", None), NOT_TRAINED
        finally:
            reporter.close(raise_error=False)
        spent = Spent(result.build_seconds, result.fit_seconds, result.callback_seconds)
        if reporter.stopped_by == "shutdown":
            try:
                self.client.release(trial.id, lease_token=trial.lease_token, attempt=trial.attempt)
            except SERVICE_ERRORS as exc:
                return self._service_error(trial, ServiceError("release", exc)), spent
            return "released", spent
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
                self.client.upload_artifact(
                    trial.id, result.artifact, lease_token=trial.lease_token
                )
            self.client.tell(
                trial.id,
                state,
                result.value,
                metrics=metrics,
                lease_token=trial.lease_token,
                attempt=trial.attempt,
            )
        except SERVICE_ERRORS as exc:
            outcome = self._service_error(trial, ServiceError(f"tell {state}", exc))
            return outcome, spent
        return state, spent

    def _tell_failed(self, trial: Trial, message: str, details: str | None) -> Outcome:
        error = message + "\n\n" + (details or traceback.format_exc())
        log.warning("trial %s #%d failed: %s", trial.study, trial.number, message)
        try:
            self.client.tell(
                trial.id,
                "failed",
                error=error[-50_000:],
                lease_token=trial.lease_token,
                attempt=trial.attempt,
            )
        except SERVICE_ERRORS as exc:
            return self._service_error(trial, ServiceError("tell failed", exc))
        return "failed"

    def _service_error(self, trial: Trial, exc: ServiceError) -> Outcome:
        """The service refused (or could not hear) a write about this trial: it is not the
        trial's failure. Hand it back if that can still work; go on, or stop if fatal."""
        handed_back = "nothing to hand back"
        if exc.can_release:
            try:
                self.client.release(trial.id, lease_token=trial.lease_token, attempt=trial.attempt)
                handed_back = "handed it back"
            except SERVICE_ERRORS as again:
                handed_back = f"could not hand it back ({again})"
        if exc.fatal:
            # One line for it all, from run(): this trial, the cause, and the exit.
            action = f"{exc.action} of trial {trial.study} #{trial.number}"
            raise ServiceError(action, exc.cause) from exc.cause
        log.warning(
            "trial %s #%d stopped, not failed: %s on %s; %s; leasing the next trial",
            trial.study,
            trial.number,
            exc.what,
            exc.action,
            handed_back,
        )
        return "lost"

    @staticmethod
    def _trial_dir(root: Path, trial: Trial) -> Path:
        return root / trial.study / f"trial-{trial.number}-attempt-{trial.attempt}"

    def _tensorboard_dir(self, trial: Trial, wanted: bool) -> Path | None:
        if not wanted:
            return None
        root = self.tensorboard_dir or self.artifact_dir / "tensorboard"
        return self._trial_dir(root, trial)
