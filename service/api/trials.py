from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.presenters import leased_trial, trial_detail, trial_public
from service.deps import SamplersDep, StorageDep, ViewerDep, WorkerDep
from service.metrics import count_expired, instrument_ask, instrument_report, instrument_tell
from service.schemas import (
    AskRequest,
    AskResponse,
    HeartbeatRequest,
    ReleaseRequest,
    ReportRequest,
    ReportResponse,
    TellRequest,
    TrialDetail,
    TrialPublic,
    TrialsPublic,
)
from service.storage import AskResult
from service.storage.records import TrialState
from service.storage.trials import TrialOrder

router = APIRouter(tags=["trials"])


@router.post("/studies/{name}/ask")
@instrument_ask
def ask(
    name: str,
    storage: StorageDep,
    samplers: SamplersDep,
    _: WorkerDep,
    body: AskRequest | None = None,
) -> AskResponse:
    worker_id = body.worker_id if body else None
    result = storage.ask(study_name=name, worker_id=worker_id, proposer=samplers)
    count_expired(result.expired)
    return ask_response(result)


def ask_response(result: AskResult) -> AskResponse:
    trial = None
    if result.trial is not None and result.study is not None:
        trial = leased_trial(result.trial, result.study)
    return AskResponse(status=result.status, reason=result.reason, trial=trial)


@router.get("/studies/{name}/trials")
def list_trials(
    name: str,
    storage: StorageDep,
    _: ViewerDep,
    state: Annotated[list[TrialState] | None, Query()] = None,
    order: TrialOrder = "number",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TrialsPublic:
    trials, total = storage.list_trials(
        study_name=name, states=state or (), order=order, offset=offset, limit=limit
    )
    return TrialsPublic(data=[trial_public(t) for t in trials], count=total)


@router.get("/studies/{name}/trials/{number}")
def get_trial(name: str, number: int, storage: StorageDep, _: ViewerDep) -> TrialDetail:
    return trial_detail(storage.get_trial(study_name=name, number=number))


@router.get("/studies/{name}/best")
def best_trial(name: str, storage: StorageDep, _: ViewerDep) -> TrialDetail:
    return trial_detail(storage.best_trial(study_name=name))


@router.get("/trials/{trial_id}")
def get_trial_by_id(trial_id: int, storage: StorageDep, _: ViewerDep) -> TrialDetail:
    return trial_detail(storage.get_trial_by_id(trial_id=trial_id, detail=True))


@router.post("/trials/{trial_id}/report")
@instrument_report
def report(trial_id: int, body: ReportRequest, storage: StorageDep, _: WorkerDep) -> ReportResponse:
    result = storage.report(
        trial_id=trial_id, attempt=body.attempt, step=body.step, values=body.values
    )
    return ReportResponse(should_stop=result.should_stop, reason=result.reason)


@router.post("/trials/{trial_id}/heartbeat")
def heartbeat(
    trial_id: int, storage: StorageDep, _: WorkerDep, body: HeartbeatRequest | None = None
) -> ReportResponse:
    attempt = body.attempt if body else None
    result = storage.report(trial_id=trial_id, attempt=attempt, step=None, values={})
    return ReportResponse(should_stop=result.should_stop, reason=result.reason)


@router.post("/trials/{trial_id}/tell")
@instrument_tell
def tell(trial_id: int, body: TellRequest, storage: StorageDep, _: WorkerDep) -> TrialPublic:
    trial = storage.tell(
        trial_id=trial_id,
        state=body.state,
        value=body.value,
        metrics=body.metrics,
        error=body.error,
        attempt=body.attempt,
    )
    return trial_public(trial)


@router.post("/trials/{trial_id}/release")
def release(trial_id: int, body: ReleaseRequest, storage: StorageDep, _: WorkerDep) -> TrialPublic:
    """Hand a running trial back to the queue (a worker shutting down)."""
    return trial_public(storage.release(trial_id=trial_id, attempt=body.attempt))
