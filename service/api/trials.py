from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parzen.service.api.params import Offset, StudyName, TrialId, TrialNumber
from parzen.service.api.presenters import leased_trial, trial_detail, trial_public
from parzen.service.api.responses import LOOKUP, LOOKUP_OR_CONFLICT
from parzen.service.deps import OffloadDep, SamplersDep, StorageDep, ViewerDep, WorkerDep
from parzen.service.metrics import count_expired, instrument_ask, instrument_report, instrument_tell
from parzen.service.schemas import (
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
from parzen.service.storage import AskResult, NotFoundError, Storage, TokenRecord, WorkerRecord
from parzen.service.storage.lookups import not_your_worker
from parzen.service.storage.records import TrialState
from parzen.service.storage.trials import TrialOrder

router = APIRouter(tags=["trials"])


@router.post("/studies/{name}/ask", responses=LOOKUP_OR_CONFLICT)
@instrument_ask
async def ask(
    name: StudyName,
    storage: StorageDep,
    samplers: SamplersDep,
    token: WorkerDep,
    offload: OffloadDep,
    body: AskRequest | None = None,
) -> AskResponse:
    """A trial of this study. Its `lease_token` is shown once: every write to the trial
    (report, heartbeat, tell, release, checkpoint upload) must carry it."""
    # A registered worker's id is its token's alone (403 otherwise); an unregistered one is
    # only a label. The ask checks it in its own transaction.
    worker_id = body.worker_id if body else None
    result = await offload.asks(
        storage.ask, study_name=name, worker_id=worker_id, proposer=samplers, token_id=token.id
    )
    count_expired(result.expired)
    return ask_response(result)


def own_worker(storage: Storage, worker_id: str, token: TokenRecord) -> WorkerRecord:
    """The worker named, if this bearer token registered it; 403 otherwise, the same for a
    worker that does not exist, so that a token cannot probe other tokens' worker ids."""
    try:
        worker = storage.get_worker(worker_id=worker_id)
    except NotFoundError:
        raise not_your_worker(worker_id) from None
    if worker.token_id != token.id:
        raise not_your_worker(worker_id)
    return worker


def ask_response(result: AskResult) -> AskResponse:
    trial = None
    if result.trial is not None and result.study is not None:
        trial = leased_trial(result.trial, result.study)
    return AskResponse(status=result.status, reason=result.reason, trial=trial)


@router.get("/studies/{name}/trials", responses=LOOKUP)
def list_trials(
    name: StudyName,
    storage: StorageDep,
    _: ViewerDep,
    state: Annotated[list[TrialState] | None, Query()] = None,
    order: TrialOrder = "number",
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TrialsPublic:
    trials, total = storage.list_trials(
        study_name=name, states=state or (), order=order, offset=offset, limit=limit
    )
    return TrialsPublic(data=[trial_public(t) for t in trials], count=total)


@router.get("/studies/{name}/trials/{number}", responses=LOOKUP)
def get_trial(
    name: StudyName, number: TrialNumber, storage: StorageDep, _: ViewerDep
) -> TrialDetail:
    return trial_detail(storage.get_trial(study_name=name, number=number))


@router.get("/studies/{name}/best", responses=LOOKUP)
def best_trial(name: StudyName, storage: StorageDep, _: ViewerDep) -> TrialDetail:
    return trial_detail(storage.best_trial(study_name=name))


@router.get("/trials/{trial_id}", responses=LOOKUP)
def get_trial_by_id(trial_id: TrialId, storage: StorageDep, _: ViewerDep) -> TrialDetail:
    return trial_detail(storage.get_trial_by_id(trial_id=trial_id, detail=True))


@router.post("/trials/{trial_id}/report", responses=LOOKUP_OR_CONFLICT)
@instrument_report
async def report(
    trial_id: TrialId,
    body: ReportRequest,
    storage: StorageDep,
    token: WorkerDep,
    offload: OffloadDep,
) -> ReportResponse:
    result = await offload.writes(
        storage.report,
        trial_id=trial_id,
        lease_token=body.lease_token,
        attempt=body.attempt,
        step=body.step,
        values=body.values,
        token_id=token.id,
    )
    return ReportResponse(should_stop=result.should_stop, reason=result.reason)


@router.post("/trials/{trial_id}/heartbeat", responses=LOOKUP_OR_CONFLICT)
async def heartbeat(
    trial_id: TrialId,
    body: HeartbeatRequest,
    storage: StorageDep,
    token: WorkerDep,
    offload: OffloadDep,
) -> ReportResponse:
    result = await offload.writes(
        storage.report,
        trial_id=trial_id,
        lease_token=body.lease_token,
        attempt=body.attempt,
        step=None,
        values={},
        token_id=token.id,
    )
    return ReportResponse(should_stop=result.should_stop, reason=result.reason)


@router.post("/trials/{trial_id}/tell", responses=LOOKUP_OR_CONFLICT)
@instrument_tell
async def tell(
    trial_id: TrialId,
    body: TellRequest,
    storage: StorageDep,
    token: WorkerDep,
    offload: OffloadDep,
) -> TrialPublic:
    trial = await offload.writes(
        storage.tell,
        trial_id=trial_id,
        lease_token=body.lease_token,
        state=body.state,
        value=body.value,
        metrics=body.metrics,
        error=body.error,
        attempt=body.attempt,
        token_id=token.id,
    )
    return trial_public(trial)


@router.post("/trials/{trial_id}/release", responses=LOOKUP_OR_CONFLICT)
async def release(
    trial_id: TrialId,
    body: ReleaseRequest,
    storage: StorageDep,
    token: WorkerDep,
    offload: OffloadDep,
) -> TrialPublic:
    """Hand a running trial back to the queue (a worker shutting down)."""
    released = await offload.writes(
        storage.release,
        trial_id=trial_id,
        lease_token=body.lease_token,
        attempt=body.attempt,
        token_id=token.id,
    )
    return trial_public(released)
