"""What a worker gets when it asks for work (POST /workers/{id}/lease): a finalization of a
study it can serve first (such a study hands out no search trials until it is done), else a
trial of the first running study it can serve, least recently served first."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from parzen.service.metrics import count_expired
from parzen.service.proposals import UnsafeProposal
from parzen.service.storage import AskResult, Proposer, Storage, StudyRecord, WorkerRecord
from parzen.service.storage.records import FinalizationRecord


@dataclass(frozen=True, slots=True)
class FinalizationLease:
    finalization: FinalizationRecord
    study: StudyRecord


def lease_work(
    *,
    storage: Storage,
    worker: WorkerRecord,
    proposer: Proposer,
    token_id: int,
    lease_seconds: float,
    exclude: Collection[str] = (),
) -> FinalizationLease | AskResult:
    """A finalization or a trial for this worker; `exclude` names studies it gave up on."""
    storage.touch_worker(worker_id=worker.id)
    finalization = storage.lease_finalization(worker=worker, lease_seconds=lease_seconds)
    if finalization is not None:
        return FinalizationLease(finalization, storage.get_study(name=finalization.study_name))
    return lease_trial(
        storage=storage, worker=worker, proposer=proposer, token_id=token_id, exclude=exclude
    )


def lease_trial(
    *,
    storage: Storage,
    worker: WorkerRecord,
    proposer: Proposer,
    token_id: int,
    exclude: Collection[str] = (),
) -> AskResult:
    """Ask each servable study in turn: the first trial wins; else `wait` with every study's
    reason, or `done` (and the worker listed idle) when no study has anything left."""
    waiting = []
    for name in storage.servable_studies(worker=worker):
        if name in exclude:
            continue
        try:
            result = storage.ask(
                study_name=name, worker_id=worker.id, proposer=proposer, token_id=token_id
            )
        except UnsafeProposal as exc:  # one unsamplable study must not block the others
            waiting.append(f"{name}: {exc}")
            continue
        count_expired(result.expired)
        if result.status == "ok":
            return result
        if result.status == "wait":
            waiting.append(f"{name}: {result.reason}")
    if waiting:
        return AskResult(status="wait", reason="; ".join(waiting))
    storage.touch_worker(worker_id=worker.id, state="idle")
    return AskResult(status="done", reason="no running study this worker can serve")
