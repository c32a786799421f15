from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from service.api.params import TrialId
from service.artifacts import ArtifactStore, ArtifactTooLarge
from service.deps import ArtifactsDep, StorageDep, ViewerDep, WorkerDep
from service.storage import Storage

router = APIRouter(tags=["artifacts"])


@router.put("/trials/{trial_id}/artifact", status_code=status.HTTP_204_NO_CONTENT)
async def upload(
    trial_id: TrialId, request: Request, storage: StorageDep, store: ArtifactsDep, _: WorkerDep
) -> None:
    """Store a trial's best-epoch checkpoint (the .keras file as the request body)."""
    trial = await run_in_threadpool(storage.get_trial_by_id, trial_id=trial_id)
    relative = store.relative_path(trial.study_name, trial.number)
    try:
        await store.save(relative, request.stream())
    except ArtifactTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    await run_in_threadpool(storage.set_artifact, trial_id=trial_id, path=relative)


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
