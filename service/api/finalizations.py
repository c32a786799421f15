from __future__ import annotations

from fastapi import APIRouter, status

from parzen.service.api.params import FinalizationId
from parzen.service.api.presenters import finalization_public, study_report_public
from parzen.service.api.responses import LOOKUP, LOOKUP_OR_CONFLICT
from parzen.service.deps import (
    AdminDep,
    AdminStudyDep,
    SettingsDep,
    StorageDep,
    StudyDep,
    ViewerDep,
    WorkerDep,
)
from parzen.service.schemas import (
    FinalizationPublic,
    FinalizeRequest,
    FinishRequest,
    ReportResponse,
    StudyReportPublic,
)

router = APIRouter(tags=["finalization"])


@router.post(
    "/studies/{name}/finalize",
    status_code=status.HTTP_202_ACCEPTED,
    responses=LOOKUP_OR_CONFLICT,
)
def finalize(
    body: FinalizeRequest,
    study: AdminStudyDep,
    storage: StorageDep,
    settings: SettingsDep,
    token: AdminDep,
) -> FinalizationPublic:
    """Evaluate the study's top_k trials once on its sealed test split (a job for workers).

    The study gets no new search trials until the job ends. Each use of the test split is
    counted; past the budget (PARZEN_TEST_BUDGET) the request needs override=true.
    """
    record = storage.request_finalization(
        study_name=study.name,
        top_k=body.top_k,
        mode=body.mode,
        rescore=body.rescore,
        requested_by=f"{token.role} token {token.name or token.id}",
        override=body.override,
        test_budget=settings.test_budget,
    )
    return finalization_public(record)


@router.get("/studies/{name}/report", responses=LOOKUP)
def report(
    study: StudyDep, storage: StorageDep, settings: SettingsDep, _: ViewerDep
) -> StudyReportPublic:
    """The latest test report, every finalization and every access to the test split."""
    result = storage.study_report(study_name=study.name)
    return study_report_public(study.name, result, settings.test_budget)


@router.post("/finalizations/{finalization_id}/heartbeat", responses=LOOKUP_OR_CONFLICT)
def heartbeat(
    finalization_id: FinalizationId, storage: StorageDep, settings: SettingsDep, _: WorkerDep
) -> ReportResponse:
    alive = storage.renew_finalization(
        finalization_id=finalization_id, lease_seconds=settings.lease_seconds
    )
    return ReportResponse(should_stop=not alive, reason="" if alive else "no longer running")


@router.post("/finalizations/{finalization_id}/finish", responses=LOOKUP_OR_CONFLICT)
def finish(
    finalization_id: FinalizationId, body: FinishRequest, storage: StorageDep, _: WorkerDep
) -> FinalizationPublic:
    record = storage.finish_finalization(
        finalization_id=finalization_id, report=body.report, error=body.error
    )
    return finalization_public(record)
