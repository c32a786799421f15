from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from service.api.params import TrialId
from service.artifacts import ArtifactStore, ArtifactTooLarge
from service.deps import ArtifactsDep, StorageDep, ViewerDep, WorkerDep
from service.storage import Storage

router = APIRouter(tags=["artifacts"])
LEASE_HEADER = "X-Parzen-Lease-Token"


@router.put("/trials/{trial_id}/artifact", status_code=status.HTTP_204_NO_CONTENT)
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

    Each attempt's checkpoint has a file of its own: a late completer's upload never
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
    trial = await run_in_threadpool(storage.get_trial_by_id, trial_id=trial_id)
    relative = _per_attempt(store.relative_path(trial.study_name, trial.number), attempt)
    try:
        await store.save(relative, request.stream())
    except ArtifactTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    await run_in_threadpool(
        storage.set_attempt_artifact, trial_id=trial_id, attempt=attempt, path=relative
    )


def _per_attempt(relative: str, attempt: int) -> str:
    path = PurePosixPath(relative)
    return str(path.with_name(f"{path.stem}-attempt-{attempt}{path.suffix}"))


@router.get("/trials/{trial_id}/artifact")
def download(
    trial_id: TrialId, storage: StorageDep, store: ArtifactsDep, _: ViewerDep
) -> FileResponse:
    return artifact_file(storage, store, trial_id)


def artifact_file(storage: Storage, store: ArtifactStore, trial_id: int) -> FileResponse:
    """A trial's checkpoint as a download (also served to the dashboard's signed-in users)."""
    trial = storage.get_trial_by_id(trial_id=trial_id)
    if trial.artifact is None or not store.path(trial.artifact).exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"trial {trial.number} has no artifact")
    return FileResponse(store.path(trial.artifact), filename=f"trial-{trial.number}.keras")
