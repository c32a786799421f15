from __future__ import annotations

from fastapi import APIRouter, status

from service.api.presenters import evaluation_job, worker_public
from service.api.trials import ask_response
from service.deps import SamplersDep, SettingsDep, StorageDep, ViewerDep, WorkerDep
from service.metrics import count_expired, instrument_ask
from service.schemas import AskResponse, LeaseRequest, WorkerPublic, WorkerRegister

router = APIRouter(prefix="/workers", tags=["workers"])


@router.post("", status_code=status.HTTP_201_CREATED)
def register_worker(body: WorkerRegister, storage: StorageDep, _: WorkerDep) -> WorkerPublic:
    return worker_public(storage.register_worker(**body.model_dump()))


@router.get("")
def list_workers(storage: StorageDep, _: ViewerDep) -> list[WorkerPublic]:
    return [worker_public(w) for w in storage.list_workers()]


@router.post("/{worker_id}/lease")
@instrument_ask
def lease(
    worker_id: str,
    storage: StorageDep,
    samplers: SamplersDep,
    settings: SettingsDep,
    _: WorkerDep,
    body: LeaseRequest | None = None,
) -> AskResponse:
    """A trial from any running study whose builder and dataset this worker has installed."""
    worker = storage.get_worker(worker_id=worker_id)
    storage.touch_worker(worker_id=worker_id)
    # Finalizations first: their studies hand out no search trials until they are done.
    finalization = storage.lease_finalization(worker=worker, lease_seconds=settings.lease_seconds)
    if finalization is not None:
        study = storage.get_study(name=finalization.study_name)
        return AskResponse(status="ok", evaluation=evaluation_job(finalization, study))
    excluded = set(body.exclude) if body else set()
    waiting = []
    for name in storage.servable_studies(worker=worker):
        if name in excluded:
            continue
        result = storage.ask(study_name=name, worker_id=worker_id, proposer=samplers)
        count_expired(result.expired)
        if result.status == "ok":
            return ask_response(result)
        if result.status == "wait":
            waiting.append(f"{name}: {result.reason}")
    if waiting:
        return AskResponse(status="wait", reason="; ".join(waiting))
    storage.touch_worker(worker_id=worker_id, state="idle")
    return AskResponse(status="done", reason="no running study this worker can serve")
