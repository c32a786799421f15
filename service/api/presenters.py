"""Records to response bodies."""

from __future__ import annotations

from parzen.service.schemas import (
    AttemptPublic,
    Budget,
    EvaluationJob,
    FinalizationPublic,
    IntermediatePublic,
    LeasedTrial,
    StudyPublic,
    StudyReportPublic,
    TestAccessPublic,
    TokenPublic,
    TrialDetail,
    TrialPublic,
    WorkerPublic,
)
from parzen.service.storage import StudyRecord, TokenRecord, TrialRecord, WorkerRecord
from parzen.service.storage.records import FinalizationRecord, StudyReport


def study_public(study: StudyRecord) -> StudyPublic:
    return StudyPublic(
        id=study.id,
        name=study.name,
        state=study.state,
        direction=study.direction,
        metric=study.metric,
        space=study.space,
        algorithm=study.algorithm,
        algorithm_settings=study.algorithm_settings,
        pruner=study.pruner,
        objective=study.objective,
        seed=study.seed,
        budget=Budget(
            max_trials=study.max_trials,
            max_parallel=study.max_parallel,
            timeout_seconds=study.timeout_seconds,
            target_value=study.target_value,
            max_epochs_total=study.max_epochs_total,
        ),
        lease_seconds=study.lease_seconds,
        max_attempts=study.max_attempts,
        trials_created=study.trial_counter,
        counts=study.counts,
        best_value=study.best_value,
        created_at=study.created_at,
        updated_at=study.updated_at,
        finished_at=study.finished_at,
    )


def _trial_fields(trial: TrialRecord) -> dict[str, object]:
    return {
        "id": trial.id,
        "study": trial.study_name,
        "number": trial.number,
        "state": trial.state,
        "params": trial.params,
        "value": trial.value,
        "metrics": trial.metrics,
        "error": trial.error,
        "attempt": trial.attempt,
        "worker_id": trial.worker_id,
        "lease_expires_at": trial.lease_expires_at,
        "last_step": trial.last_step,
        "artifact": trial.artifact,
        "pruned_reason": trial.pruned_reason,
        "created_at": trial.created_at,
        "started_at": trial.started_at,
        "finished_at": trial.finished_at,
    }


def trial_public(trial: TrialRecord) -> TrialPublic:
    return TrialPublic.model_validate(_trial_fields(trial))


def trial_detail(trial: TrialRecord) -> TrialDetail:
    return TrialDetail.model_validate(
        _trial_fields(trial)
        | {
            "attempts": [
                AttemptPublic.model_validate(a, from_attributes=True) for a in trial.attempts
            ],
            "intermediate": [
                IntermediatePublic.model_validate(v, from_attributes=True)
                for v in trial.intermediate
            ],
        }
    )


def leased_trial(trial: TrialRecord, study: StudyRecord) -> LeasedTrial:
    return LeasedTrial.model_validate(
        _trial_fields(trial)
        | {
            "direction": study.direction,
            "metric": study.metric,
            "objective": study.objective,
            "lease_seconds": study.lease_seconds,
            "lease_token": trial.lease_token,
        }
    )


def token_public(token: TokenRecord) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


def worker_public(worker: WorkerRecord) -> WorkerPublic:
    return WorkerPublic.model_validate(worker, from_attributes=True)


def finalization_public(record: FinalizationRecord) -> FinalizationPublic:
    return FinalizationPublic(
        id=record.id,
        study=record.study_name,
        state=record.state,
        top_k=record.top_k,
        mode=record.mode,
        rescore=record.rescore,
        requested_by=record.requested_by,
        override=record.override,
        worker_id=record.worker_id,
        candidates=[t.number for t in record.candidates],
        report=record.report,
        error=record.error,
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


def study_report_public(name: str, report: StudyReport, test_budget: int) -> StudyReportPublic:
    return StudyReportPublic(
        study=name,
        report=report.latest.report if report.latest else None,
        test_uses=report.test_uses,
        test_budget=test_budget,
        finalizations=[finalization_public(f) for f in report.finalizations],
        accesses=[
            TestAccessPublic.model_validate(a, from_attributes=True) for a in report.accesses
        ],
    )


def evaluation_job(record: FinalizationRecord, study: StudyRecord) -> EvaluationJob:
    return EvaluationJob(
        id=record.id,
        study=study.name,
        mode=record.mode,
        rescore=record.rescore,
        metric=study.metric,
        direction=study.direction,
        objective=study.objective,
        lease_seconds=study.lease_seconds,
        candidates=[
            {
                "trial_id": t.id,
                "number": t.number,
                "params": t.params,
                "value": t.value,
                "best_epoch": t.metrics.get("best_epoch"),
            }
            for t in record.candidates
        ],
    )
