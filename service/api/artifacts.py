"""Trials' checkpoints: uploaded by the worker that trained them, downloaded by any node (and
by the dashboard), from whichever store the server was given (service/artifacts/)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from parzen.service.api.params import TrialId
from parzen.service.api.responses import LOOKUP, LOOKUP_OR_CONFLICT, ErrorPublic
from parzen.service.artifacts import (
    ArtifactMissing,
    ArtifactStore,
    ArtifactStoreUnavailable,
    ArtifactTooLarge,
)
from parzen.service.deps import ArtifactsDep, StorageDep, ViewerDep, WorkerDep
from parzen.service.storage import Storage

router = APIRouter(tags=["artifacts"])
LEASE_HEADER = "X-Parzen-Lease-Token"
RETRY_AFTER = "5"  # seconds; the object store is usually back quickly
UNAVAILABLE = {
    "model": ErrorPublic,
    "description": "The artifact store did not answer; nothing was stored. Retry.",
}


@router.put(
    "/trials/{trial_id}/artifact",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **LOOKUP_OR_CONFLICT,
        413: {"model": ErrorPublic, "description": "Over the artifact size limit."},
        503: UNAVAILABLE,
    },
)
async def upload(
    trial_id: TrialId,
    request: Request,
    storage: StorageDep,
    store: ArtifactsDep,
    token: WorkerDep,
    lease_token: Annotated[
        str | None,
        Header(alias=LEASE_HEADER, description="The lease_token that ask or lease returned."),
    ] = None,
) -> None:
    """Store a trial attempt's best-epoch checkpoint (the .keras file as the request body).

    Each attempt's checkpoint has a key of its own: a late completer's upload never
    overwrites the running attempt's, and the trial's artifact is the one of the attempt
    whose result it records."""
    if not lease_token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"send the trial's lease token in the {LEASE_HEADER} header",
        )
    attempt = await run_in_threadpool(
        storage.artifact_attempt, trial_id=trial_id, lease_token=lease_token, token_id=token.id
    )
    refuse_declared_oversize(request, store)
    trial = await run_in_threadpool(storage.get_trial_by_id, trial_id=trial_id)
    key = _per_attempt(store.key(trial.study_name, trial.number), attempt)
    try:
        await store.save(key, request.stream())
    except ArtifactTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except ArtifactStoreUnavailable as exc:
        raise _unavailable(exc) from exc
    await run_in_threadpool(
        storage.set_attempt_artifact, trial_id=trial_id, attempt=attempt, path=key
    )


def _per_attempt(key: str, attempt: int) -> str:
    path = PurePosixPath(key)
    return str(path.with_name(f"{path.stem}-attempt-{attempt}{path.suffix}"))


@router.get("/trials/{trial_id}/artifact", responses={**LOOKUP, 503: UNAVAILABLE})
def download(trial_id: TrialId, storage: StorageDep, store: ArtifactsDep, _: ViewerDep) -> Response:
    return artifact_file(storage, store, trial_id)


def refuse_declared_oversize(request: Request, store: ArtifactStore) -> None:
    """413 before a byte of the body is read, when its declared length is already too much.

    A chunked upload (no Content-Length) is still cut off by the store while it streams.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"artifacts are limited to {store.max_bytes} bytes; this one declares {declared}",
        )


def artifact_file(storage: Storage, store: ArtifactStore, trial_id: int) -> Response:
    """A trial's checkpoint as a download (also served to the dashboard's signed-in users)."""
    trial = storage.get_trial_by_id(trial_id=trial_id)
    missing = HTTPException(status.HTTP_404_NOT_FOUND, f"trial {trial.number} has no artifact")
    if trial.artifact is None:
        raise missing
    try:
        return store.download(trial.artifact, filename=f"trial-{trial.number}.keras")
    except ArtifactMissing as exc:
        raise missing from exc
    except ArtifactStoreUnavailable as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: ArtifactStoreUnavailable) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": RETRY_AFTER}
    )
