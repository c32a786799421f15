"""Rows to records."""

from __future__ import annotations

from typing import Any, cast

from parzen.service.db import models
from parzen.service.storage.records import (
    AttemptRecord,
    IntermediateRecord,
    StudyRecord,
    TokenRecord,
    TrialRecord,
    WorkerRecord,
)


def study_record(
    row: models.Study, counts: dict[str, int] | None = None, best: float | None = None
) -> StudyRecord:
    return StudyRecord(
        id=row.id,
        name=row.name,
        direction=cast(Any, row.direction),
        metric=row.metric,
        space=row.space,
        algorithm=row.algorithm,
        algorithm_settings=row.algorithm_settings,
        objective=row.objective,
        seed=row.seed,
        max_trials=row.max_trials,
        max_parallel=row.max_parallel,
        timeout_seconds=row.timeout_seconds,
        target_value=row.target_value,
        max_epochs_total=row.max_epochs_total,
        lease_seconds=row.lease_seconds,
        max_attempts=row.max_attempts,
        state=cast(Any, row.state),
        trial_counter=row.trial_counter,
        pruner=row.pruner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        counts=counts or {},
        best_value=best,
    )


def trial_record(
    row: models.Trial,
    *,
    study_name: str,
    objective: dict[str, Any] | None = None,
    attempts: list[models.TrialAttempt] | None = None,
    intermediate: list[models.IntermediateValue] | None = None,
) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        study_id=row.study_id,
        study_name=study_name,
        number=row.number,
        state=cast(Any, row.state),
        params=row.params,
        vals=row.vals,
        value=row.value,
        metrics=row.metrics,
        error=row.error,
        attempt=row.attempt,
        worker_id=row.worker_id,
        lease_expires_at=row.lease_expires_at,
        last_step=row.last_step,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        artifact=row.artifact,
        pruned_reason=row.pruned_reason if row.state == "pruned" else None,
        objective=objective or {},
        attempts=tuple(
            AttemptRecord(a.attempt, a.worker_id, a.started_at, a.ended_at, a.outcome, a.error)
            for a in attempts or ()
        ),
        intermediate=tuple(
            IntermediateRecord(v.attempt, v.step, v.value, v.values, v.created_at)
            for v in intermediate or ()
        ),
    )


def token_record(row: models.Token) -> TokenRecord:
    return TokenRecord(row.id, row.name, cast(Any, row.role), row.created_at, row.revoked_at)


def worker_record(row: models.Worker) -> WorkerRecord:
    return WorkerRecord(
        id=row.id,
        host=row.host,
        pid=row.pid,
        gpu=row.gpu,
        builders=row.builders,
        datasets=row.datasets,
        registered_at=row.registered_at,
        last_seen_at=row.last_seen_at,
        current_trial_id=row.current_trial_id,
        trials_done=row.trials_done,
        trials_failed=row.trials_failed,
        state=row.state,
        token_id=row.token_id,
    )
