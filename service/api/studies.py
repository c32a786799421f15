from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, status

from parzen.service.api.params import Offset
from parzen.service.api.presenters import study_public
from parzen.service.api.responses import LOOKUP, LOOKUP_OR_CONFLICT, errors
from parzen.service.artifacts import ArtifactStoreUnavailable
from parzen.service.deps import (
    AdminDep,
    AdminStudyDep,
    ArtifactsDep,
    SettingsDep,
    StorageDep,
    StudyDep,
    ViewerDep,
)
from parzen.service.schemas import StudiesPublic, StudyCreate, StudyPublic
from parzen.service.storage import StudySpec
from parzen.service.storage.records import StudyState

router = APIRouter(prefix="/studies", tags=["studies"])
log = logging.getLogger("parzen.service")


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
def create_study(
    body: StudyCreate, storage: StorageDep, settings: SettingsDep, _: AdminDep
) -> StudyPublic:
    spec = StudySpec(
        name=body.name,
        direction=body.direction,
        metric=body.metric,
        space=body.space,
        algorithm=body.algorithm,
        algorithm_settings=body.algorithm_settings,  # checked and filled in by StudyCreate
        objective=body.objective.model_dump(),
        seed=body.seed if body.seed is not None else secrets.randbelow(2**31),
        max_trials=body.budget.max_trials,
        max_parallel=body.budget.max_parallel,
        timeout_seconds=body.budget.timeout_seconds,
        target_value=body.budget.target_value,
        max_epochs_total=body.budget.max_epochs_total,
        lease_seconds=body.lease_seconds or settings.lease_seconds,
        max_attempts=body.max_attempts or settings.max_attempts,
        pruner=body.pruner or {"type": "none"},
    )
    return study_public(storage.create_study(spec=spec))


@router.get("")
def list_studies(
    storage: StorageDep,
    _: ViewerDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> StudiesPublic:
    studies, total = storage.list_studies(offset=offset, limit=limit)
    return StudiesPublic(data=[study_public(s) for s in studies], count=total)


@router.get("/{name}", responses=LOOKUP)
def get_study(study: StudyDep, _: ViewerDep) -> StudyPublic:
    return study_public(study)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=LOOKUP)
def delete_study(study: AdminStudyDep, storage: StorageDep, artifacts: ArtifactsDep) -> None:
    """Delete the study, its trials and, once that is committed, its checkpoints."""
    storage.delete_study(name=study.name)
    try:
        artifacts.delete_study(study.name)
    except ArtifactStoreUnavailable:
        # The study is gone either way; say where the orphans are rather than answer 5xx.
        log.exception(
            "artifacts of deleted study %r are left under %r",
            study.name,
            artifacts.study_prefix(study.name),
        )


def _set_state(storage: StorageDep, study: StudyDep, state: StudyState) -> StudyPublic:
    return study_public(storage.set_study_state(name=study.name, state=state))


@router.post("/{name}/pause", responses=LOOKUP_OR_CONFLICT)
def pause_study(study: AdminStudyDep, storage: StorageDep) -> StudyPublic:
    return _set_state(storage, study, "paused")


@router.post("/{name}/resume", responses=LOOKUP_OR_CONFLICT)
def resume_study(study: AdminStudyDep, storage: StorageDep) -> StudyPublic:
    return _set_state(storage, study, "running")


@router.post("/{name}/stop", responses=LOOKUP_OR_CONFLICT)
def stop_study(study: AdminStudyDep, storage: StorageDep) -> StudyPublic:
    return _set_state(storage, study, "stopped")
