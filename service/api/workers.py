from __future__ import annotations

from fastapi import APIRouter, status

from parzen.service.api.params import WorkerIdPath
from parzen.service.api.presenters import evaluation_job, worker_public
from parzen.service.api.trials import ask_response, own_worker
from parzen.service.deps import (
    OffloadDep,
    SamplersDep,
    SettingsDep,
    StorageDep,
    ViewerDep,
    WorkerDep,
)
from parzen.service.leasing import FinalizationLease, lease_work
from parzen.service.metrics import instrument_ask
from parzen.service.schemas import (
    AskResponse,
    LeaseRequest,
    WorkerPublic,
    WorkerRegister,
    WorkersPublic,
)

router = APIRouter(prefix="/workers", tags=["workers"])


@router.post("", status_code=status.HTTP_201_CREATED)
def register_worker(body: WorkerRegister, storage: StorageDep, token: WorkerDep) -> WorkerPublic:
    """Only the token that registers a worker may lease (or ask) in its name."""
    return worker_public(storage.register_worker(**body.model_dump(), token_id=token.id))


@router.get("")
def list_workers(storage: StorageDep, _: ViewerDep) -> WorkersPublic:
    workers = [worker_public(w) for w in storage.list_workers()]
    return WorkersPublic(data=workers, count=len(workers))


@router.post("/{worker_id}/lease")
@instrument_ask
async def lease(
    worker_id: WorkerIdPath,
    storage: StorageDep,
    samplers: SamplersDep,
    settings: SettingsDep,
    token: WorkerDep,
    offload: OffloadDep,
    body: LeaseRequest | None = None,
) -> AskResponse:
    """A trial from any running study whose builder and dataset this worker has installed;
    its `lease_token` is shown once, and every write to the trial must carry it."""
    exclude = set(body.exclude) if body else set()

    def leased() -> AskResponse:
        work = lease_work(
            storage=storage,
            worker=own_worker(storage, worker_id, token),
            proposer=samplers,
            token_id=token.id,
            lease_seconds=settings.lease_seconds,
            exclude=exclude,
        )
        if isinstance(work, FinalizationLease):
            return AskResponse(
                status="ok", evaluation=evaluation_job(work.finalization, work.study)
            )
        return ask_response(work)

    return await offload.asks(leased)


@router.post("/{worker_id}/goodbye")
def goodbye(worker_id: str, storage: StorageDep, token: WorkerDep) -> WorkerPublic:
    """The worker exits: its running trial goes back to the queue (as a release: the attempt
    is not counted) and it is listed as `exited`. Idempotent. Only the token that registered
    the worker may say its goodbye."""
    own_worker(storage, worker_id, token)
    return worker_public(storage.say_goodbye(worker_id=worker_id))
